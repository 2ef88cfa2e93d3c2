import Foundation
import ImageAccess
import OCILayout
import RegistryClient
import Testing
@testable import ImageSync

/// `oci sync`'s pieces that need no registry: skopeo sync's YAML read (and refused, naming the
/// line), the semver constraints of images-by-semver, and where images go. The syncs themselves,
/// against skopeo sync as the oracle, are in the integration tests.
@Suite struct ImageSyncTests {
    @Test func theListIsReadAsSkopeoReadsIt() throws {
        let list = try SyncImageList(
            data: Data(
                """
                registry.example.com:
                  images:
                    busybox: []
                    redis:
                      - "7.2"
                      - "7.4"
                    alpine:
                  images-by-tag-regex:
                    nginx: ^1\\.27\\.\\d+-alpine$
                  images-by-semver:
                    debian: ">= 12.0.0, < 13"
                  credentials:
                    username: john
                    password: "a secret"
                  tls-verify: false
                  cert-dir: /etc/mbctl/certs
                127.0.0.1:5000:
                  images:
                    team/app: [v1]
                """.utf8))
        #expect(list.registries.map(\.host) == ["registry.example.com", "127.0.0.1:5000"])
        let first = try #require(list.registries.first)
        #expect(first.images.map(\.repository) == ["busybox", "redis", "alpine"] && first.images[1].tags == ["7.2", "7.4"] && first.images[2].tags.isEmpty)
        #expect(first.tagPatterns.first?.pattern == #"^1\.27\.\d+-alpine$"#)
        #expect(first.credentials == RegistryCredentials(username: "john", password: "a secret") && first.tlsVerify == false)
        #expect(first.certDirectory == "/etc/mbctl/certs" && first.versionRanges.count == 1)

        func refusal(_ text: String) -> String {
            do {
                _ = try SyncImageList(data: Data(text.utf8))
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal("r.example.com:\n  imagez:\n    a: []\n").hasPrefix("line 2: registry r.example.com has an unknown key \"imagez\""))
        #expect(refusal("r.example.com:\n  images-by-tag-regex:\n    a: \"([\"\n").hasPrefix("line 3: the pattern of a is not a regular expression"))
        #expect(refusal("r.example.com:\n  tls-verify: maybe\n").hasPrefix("line 2: r.example.com tls-verify is not true or false"))
        #expect(refusal("r.example.com:\n  images:\n    a: [\"x\"]\n    a: []\n").contains("duplicated"))
        #expect(refusal("r.example.com:\n  images:\n    \"../x\": []\n").contains("is not a repository"))
        #expect(refusal("r.example.com:\n  credentials: {username: a}\n").contains("needs username and password"))
        #expect(refusal(String(repeating: "[", count: 100)).contains("nests"))
        #expect(refusal("r.example.com:\n  images-by-semver:\n    a: \">= banana\"\n").hasPrefix("line 3: semver constraint"))
    }

    @Test func versionRangesAreReadAsSkopeosSemverReadsThem() throws {
        func matches(_ constraint: String, _ tags: [String]) throws -> [String] {
            let parsed = try SemverConstraint(parsing: constraint)
            return tags.filter(parsed.matches(tag:))
        }
        let tags = ["1.0.0", "1.2.0", "1.2.3", "v1.2.9", "1.3.0", "1.3.0-rc1", "2.0.0", "latest", "1.2", "0.2.5", "0.3.0"]
        #expect(try matches(">= 1.2.3, < 2", tags) == ["1.2.3", "v1.2.9", "1.3.0"])
        #expect(try matches(">=1.2.3 <2.0.0", tags) == ["1.2.3", "v1.2.9", "1.3.0"])
        #expect(try matches("~1.2", tags) == ["1.2.0", "1.2.3", "v1.2.9", "1.2"])
        #expect(try matches("^1.2.3", tags) == ["1.2.3", "v1.2.9", "1.3.0"])
        #expect(try matches("^0.2", tags) == ["0.2.5"])
        #expect(try matches("1.2.x", tags) == ["1.2.0", "1.2.3", "v1.2.9", "1.2"])
        #expect(try matches("< 1.0.0 || >= 2", tags) == ["2.0.0", "0.2.5", "0.3.0"])
        #expect(try matches("1.0.0 - 1.2.0", tags) == ["1.0.0", "1.2.0", "1.2"])
        #expect(try matches(">1.2", tags) == ["1.3.0", "2.0.0"])
        #expect(try matches(">= 1.3.0-rc0", tags) == ["1.3.0", "1.3.0-rc1", "2.0.0"])
        #expect(try matches("*", tags).count == 9)
        for bad in ["", ">= ", "banana", "1.2.3.4", "||", "1 -"] {
            #expect(throws: SyncError.self, "\(bad)") { try SemverConstraint(parsing: bad) }
        }
    }

    @Test func imagesGoWhereSkopeoSyncPutsThem() async throws {
        let sync = ImageSync(access: ImageAccess(platform: Platform(os: "linux", architecture: "amd64"), cacheDirectory: "/nonexistent"))
        let one = try await sync.items(from: .repository("quay.io/team/app:1.0"), to: "127.0.0.1:5000/mirror", kind: .docker)
        #expect(one.map(\.destination.description) == ["docker://127.0.0.1:5000/mirror/app:1.0"])
        var scoped = sync
        scoped.scoped = true
        let named = try await scoped.items(from: .repository("quay.io/team/app:1.0"), to: "127.0.0.1:5000/mirror", kind: .docker)
        #expect(named.map(\.destination.description) == ["docker://127.0.0.1:5000/mirror/quay.io/team/app:1.0"])
        let layout = try await sync.items(from: .repository("docker://quay.io/team/app:1.0"), to: "/srv/mirror/", kind: .oci)
        #expect(layout.map(\.destination) == [.layout(path: "/srv/mirror/app", tag: "1.0")])
        await #expect(throws: SyncError.self) {
            _ = try await sync.items(from: .repository("quay.io/team/app@sha256:" + String(repeating: "a", count: 64)), to: "x.example/m", kind: .docker)
        }
    }
}
