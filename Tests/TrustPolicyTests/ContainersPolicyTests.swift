import Foundation
import RegistryClient
import Testing
import TrustPolicy

/// containers-policy.json as containers/image reads it: its own fixture parses, scopes are
/// chosen with its precedence, every signedIdentity rule decides as its matcher does, and a
/// malformed policy is an error naming the place, never a weaker policy.
struct ContainersPolicyTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/trust")

    func fixture() throws -> ContainersPolicy {
        let path = Self.fixtures.appendingPathComponent("containers-image-policy.json").path
        return try ContainersPolicy(parsing: try Data(contentsOf: URL(fileURLWithPath: path)), source: path)
    }

    func scope(_ text: String, in policy: ContainersPolicy) throws -> String {
        policy.requirements(for: .docker(try ImageReference(parsing: text))).scope
    }

    @Test func containersImagesOwnFixtureParses() throws {
        let policy = try fixture()
        #expect(policy.defaultRequirements == [.reject])
        #expect(policy.transports["dir"]?[""] == [.insecureAcceptAnything])
        #expect(policy.transports["docker"]?["example.com/playground"] == [.insecureAcceptAnything])
        #expect(
            policy.transports["docker"]?["example.com/production"] == [
                .signedBy(keyType: "GPGKeys", keys: .paths(["/keys/employee-gpg-keyring"]), signedIdentity: .matchRepoDigestOrExact)
            ])
        #expect(
            policy.transports["docker"]?["private-mirror:5000/vendor-mirror"]
                == [
                    .signedBy(
                        keyType: "GPGKeys", keys: .paths(["/keys/vendor-gpg-keyring"]),
                        signedIdentity: .remapIdentity(prefix: "private-mirror:5000/vendor-mirror", signedPrefix: "vendor.example.com"))
                ])
        #expect(
            policy.transports["docker"]?["example.com/sigstore/key-data-example"] == [
                .sigstoreSigned(.keys(.data([Data("nonsense".utf8)]), rekorPublicKeys: nil), signedIdentity: .matchRepoDigestOrExact)
            ])
    }

    @Test(arguments: [
        ("example.com/playground/app:1", "docker:example.com/playground"),
        ("example.com/production:1", "docker:example.com/production"),
        ("example.com/production/deep/app@sha256:" + String(repeating: "a", count: 64), "docker:example.com/production"),
        ("example.com/other/app:1", "docker:example.com"),
        ("registry.access.redhat.com/rhel7/rhel:7", "docker:registry.access.redhat.com"),
        ("foo.access.redhat.com/x:1", "docker:*.access.redhat.com"),
        ("bar.redhat.com/x:1", "docker:*.redhat.com"),
        ("elsewhere.com:5000/x:1", "docker:*.com"),
        ("quay.io/x:1", "default"),
    ])
    func theNarrowestScopeTheImageFallsUnderDecides(image: String, scope: String) throws {
        var policy = try fixture()
        policy.transports["docker"]?["example.com"] = [.reject]
        #expect(try self.scope(image, in: policy) == scope)
    }

    @Test func equalKeysInDifferentObjectsOrInsideStringsAreNoDuplicates() throws {
        let text =
            #"{"default":[{"type":"reject"}],"transports":{"docker":{"a.io":[{"type":"reject"}],"b.io":[{"type":"reject"}]},"#
            + #""oci":{"/a:\"x\"":[{"type":"reject"}],"/b":[{"type":"reject"}]}}}"#
        let policy = try ContainersPolicy(parsing: Data(text.utf8), source: "p")
        #expect(policy.transports["docker"]?.count == 2 && policy.transports["oci"]?.count == 2)
    }

    @Test func anImageByTagOrDigestIsLookedUpByThatFirst() throws {
        let digest = "sha256:" + String(repeating: "b", count: 64)
        var policy = try ContainersPolicy(parsing: Data(#"{"default":[{"type":"reject"}]}"#.utf8), source: "policy.json")
        policy.transports["docker"] = ["h.io/a/b:1": [.insecureAcceptAnything], "h.io/a/b@\(digest)": [.insecureAcceptAnything], "h.io/a": [.reject]]
        #expect(try scope("h.io/a/b:1", in: policy) == "docker:h.io/a/b:1")
        #expect(try scope("h.io/a/b@\(digest)", in: policy) == "docker:h.io/a/b@\(digest)")
        #expect(try scope("h.io/a/b:2", in: policy) == "docker:h.io/a")
    }

    @Test func layoutsAndArchivesAreLookedUpByPathThenParentDirectories() throws {
        var policy = try ContainersPolicy(parsing: Data(#"{"default":[{"type":"reject"}]}"#.utf8), source: "policy.json")
        policy.transports["oci"] = ["/srv/images": [.insecureAcceptAnything], "": [.reject]]
        #expect(policy.requirements(for: .file(transport: "oci", path: "/srv/images/app")).scope == "oci:/srv/images")
        #expect(policy.requirements(for: .file(transport: "oci", path: "/srv/other")).scope == "oci:")
        #expect(policy.requirements(for: .file(transport: "oci-archive", path: "/srv/images/app.tar")).scope == "default")
    }

    @Test(arguments: [
        (#"{}"#, "no \"default\""),
        (#"{"default":[]}"#, "empty list"),
        (#"{"default":[{"type":"insecureAcceptAnything","keyPath":"/k"}]}"#, "unknown field \"keyPath\""),
        (#"{"default":[{"type":"signedby","keyType":"GPGKeys","keyPath":"/k"}]}"#, "unknown requirement type \"signedby\""),
        (#"{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}"#, "is required"),
        (#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","keyData":"eA=="}]}"#, "only one of"),
        (#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"not base64!"}]}"#, "not base64"),
        (#"{"default":[{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"matchExactly"}}]}"#, "unknown identity rule"),
        (#"{"default":[{"type":"sigstoreSigned","fulcio":{"caPath":"/ca","oidcIssuer":"https://i","subjectEmail":"a@b"}}]}"#, "need a Rekor public key"),
        (#"{"default":[{"type":"reject"}],"transports":{"docker":{"*.":[{"type":"reject"}]}}}"#, "wildcard"),
        (#"{"default":[{"type":"reject"}],"transports":{"oci":{"relative/path":[{"type":"reject"}]}}}"#, "absolute path"),
        (#"{"default":[{"type":"reject"}],"transports":{"oci":{"/a/../b":[{"type":"reject"}]}}}"#, "canonical"),
        (
            #"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{"type":"exactReference","dockerReference":"h.io/a"}}]}"#,
            "names no tag or digest"
        ),
        ("[", "not JSON"),
        (#"{"default":[{"type":"reject"}],"default":[{"type":"insecureAcceptAnything"}]}"#, "the key \"default\" twice"),
        (#"{"default":[{"type":"sigstoreSigned","keyPath":"/a","keyPath":"/b"}]}"#, "the key \"keyPath\" twice"),
        (#"{"default":[{"type":"reject"}],"transports":{"docker":{"a.io":[],"\u0061.io":[]}}}"#, "the key \"a.io\" twice"),
    ])
    func aMalformedPolicyIsAnErrorNamingWhatIsWrong(text: String, message: String) {
        #expect {
            try ContainersPolicy(parsing: Data(text.utf8), source: "/etc/containers/policy.json")
        } throws: { error in
            "\(error)".contains("/etc/containers/policy.json") && "\(error)".contains(message)
        }
    }
}
