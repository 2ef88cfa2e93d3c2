import Testing
@testable import RegistryClient

/// registries.conf as containers/image reads it: prefixes (longest wins, wildcards), location
/// rewrites, which mirrors serve tags and which digests, drop-ins, short names.
@Suite struct RegistriesConfigurationTests {
    static let digest = "sha256:" + String(repeating: "a", count: 64)

    func configuration(_ files: String...) throws -> RegistriesConfiguration {
        var configuration = RegistriesConfiguration()
        for (index, text) in files.enumerated() { try configuration.merge(parsing: text, path: "file\(index)") }
        return configuration
    }

    func endpoints(_ configuration: RegistriesConfiguration, _ reference: String) throws -> [String] {
        try configuration.endpoints(for: try ImageReference(parsing: reference)).map { ($0.isMirror ? "mirror " : "") + $0.reference.description }
    }

    @Test func theLongestPrefixWinsAndRewritesTheLocation() throws {
        let conf = try configuration(
            """
            [[registry]]
            prefix = "example.com"
            location = "primary.example:5000"

            [[registry]]
            prefix = "example.com/team"
            location = "team.example/mirrored/team"
            [[registry.mirror]]
            location = "cache.local:5000/team"
            """)
        #expect(try endpoints(conf, "example.com/team/app:1") == ["mirror cache.local:5000/team/app:1", "team.example/mirrored/team/app:1"])
        #expect(try endpoints(conf, "example.com/other/app:1") == ["primary.example:5000/other/app:1"])
        #expect(try endpoints(conf, "example.community/app:1") == ["example.community/app:1"])
    }

    @Test func mirrorsServeTagsAndDigestsAsTheySay() throws {
        let conf = try configuration(
            """
            [[registry]]
            location = "docker.io"
            [[registry.mirror]]
            location = "digests.local"
            pull-from-mirror = "digest-only"
            [[registry.mirror]]
            location = "tags.local"
            pull-from-mirror = "tag-only"
            [[registry.mirror]]
            location = "all.local"
            insecure = true
            """)
        #expect(
            try endpoints(conf, "busybox:1") == ["mirror tags.local/library/busybox:1", "mirror all.local/library/busybox:1", "docker.io/library/busybox:1"])
        #expect(
            try endpoints(conf, "busybox@\(Self.digest)") == [
                "mirror digests.local/library/busybox@\(Self.digest)", "mirror all.local/library/busybox@\(Self.digest)",
                "docker.io/library/busybox@\(Self.digest)",
            ])
        #expect(conf.isInsecure("all.local") && !conf.isInsecure("tags.local"))
        let digestOnly = try configuration(
            """
            [[registry]]
            location = "docker.io"
            mirror-by-digest-only = true
            [[registry.mirror]]
            location = "all.local"
            """)
        #expect(try endpoints(digestOnly, "busybox:1") == ["docker.io/library/busybox:1"])
    }

    @Test func wildcardsMatchHostsAndBlockedRegistriesAreRefused() throws {
        let conf = try configuration(
            """
            [[registry]]
            prefix = "*.internal.example"
            blocked = true
            """)
        #expect(throws: RegistryError.self) { try endpoints(conf, "registry.internal.example/app:1") }
        #expect(try endpoints(conf, "internal.example.org/app:1") == ["internal.example.org/app:1"])
    }

    @Test func dropInsOverrideAndShortNamesResolve() throws {
        let conf = try configuration(
            """
            unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
            [aliases]
            "fedora" = "registry.fedoraproject.org/fedora"
            [[registry]]
            location = "docker.io"
            insecure = true
            """,
            """
            [[registry]]
            location = "docker.io"
            [aliases]
            "app" = "quay.io/team/app"
            """)
        #expect(conf.registries.count == 1 && conf.registries[0].insecure == false)
        #expect(try conf.candidates(for: try ImageReference(parsing: "fedora:40")).map(\.description) == ["registry.fedoraproject.org/fedora:40"])
        #expect(try conf.candidates(for: try ImageReference(parsing: "app")).map(\.description) == ["quay.io/team/app:latest"])
        #expect(
            try conf.candidates(for: try ImageReference(parsing: "busybox")).map(\.description) == [
                "registry.fedoraproject.org/busybox:latest", "docker.io/library/busybox:latest",
            ])
        // A qualified name is what it says.
        #expect(try conf.candidates(for: try ImageReference(parsing: "quay.io/x/y:1")).map(\.description) == ["quay.io/x/y:1"])
    }

    @Test func aBrokenFileNamesItsLine() {
        var conf = RegistriesConfiguration()
        #expect {
            try conf.merge(parsing: "[[registry]]\nlocation = \n", path: "/etc/containers/registries.conf")
        } throws: { error in
            "\(error)".contains("/etc/containers/registries.conf: line 2")
        }
    }
}
