import RegistryClient
import Testing
import TrustPolicy

/// Each `signedIdentity` rule against the identity a signature names, as containers/image's
/// matchers decide (policy_reference_match.go).
struct SignedIdentityTests {
    static let digest = "sha256:" + String(repeating: "c", count: 64)

    func accepts(_ rule: SignedIdentity, _ signed: String, for image: String?) throws -> Bool {
        rule.accepts(signed: signed, for: try image.map(ImageReference.init(parsing:)))
    }

    @Test func matchExactWantsTheSameTagOrDigest() throws {
        #expect(try accepts(.matchExact, "h.io/a/b:1", for: "h.io/a/b:1"))
        #expect(try !accepts(.matchExact, "h.io/a/b:2", for: "h.io/a/b:1"))
        #expect(try !accepts(.matchExact, "h.io/a/b", for: "h.io/a/b:latest"), "a bare name vouches for no image")
        #expect(try !accepts(.matchExact, "h.io/a/b:1", for: "h.io/a/b@\(Self.digest)"))
        #expect(try accepts(.matchExact, "busybox:1", for: "docker.io/library/busybox:1"), "names are normalized as Docker does")
    }

    @Test func matchRepoDigestOrExactIsExactForTagsAndByRepositoryForDigests() throws {
        #expect(try accepts(.matchRepoDigestOrExact, "h.io/a/b:1", for: "h.io/a/b:1"))
        #expect(try !accepts(.matchRepoDigestOrExact, "h.io/a/b:2", for: "h.io/a/b:1"))
        #expect(try accepts(.matchRepoDigestOrExact, "h.io/a/b:2", for: "h.io/a/b@\(Self.digest)"))
        #expect(try !accepts(.matchRepoDigestOrExact, "h.io/a/other:2", for: "h.io/a/b@\(Self.digest)"))
        #expect(try !accepts(.matchRepoDigestOrExact, "h.io/a/b", for: "h.io/a/b@\(Self.digest)"))
    }

    @Test func matchRepositoryAndTheExactRulesIgnoreTheImagesTag() throws {
        #expect(try accepts(.matchRepository, "h.io/a/b:9", for: "h.io/a/b:1"))
        #expect(try !accepts(.matchRepository, "h.io/a/c:1", for: "h.io/a/b:1"))
        #expect(try accepts(.exactReference("up.io/x:1"), "up.io/x:1", for: nil), "a layout has no registry name")
        #expect(try !accepts(.exactReference("up.io/x:1"), "up.io/x:2", for: "h.io/a/b:1"))
        #expect(try accepts(.exactRepository("up.io/x"), "up.io/x:7", for: nil))
        #expect(try !accepts(.matchRepository, "h.io/a/b:1", for: nil))
    }

    @Test func remapIdentityMatchesAMirrorsImagesUnderTheirUpstreamNames() throws {
        let rule = SignedIdentity.remapIdentity(prefix: "mirror:5000/vendor", signedPrefix: "vendor.example.com")
        #expect(try accepts(rule, "vendor.example.com/app:1", for: "mirror:5000/vendor/app:1"))
        #expect(try !accepts(rule, "vendor.example.com/app:2", for: "mirror:5000/vendor/app:1"))
        #expect(try !accepts(rule, "vendor.example.com/app:1", for: "mirror:5000/vendorx/app:1"), "the prefix ends at a path component")
        #expect(try accepts(rule, "mirror:5000/other/app:1", for: "mirror:5000/other/app:1"), "outside the prefix the image's own name counts")
    }

    @Test func aGarbledIdentityMatchesNothing() throws {
        for rule in [SignedIdentity.matchExact, .matchRepoDigestOrExact, .matchRepository, .exactRepository("h.io/a/b")] {
            #expect(try !accepts(rule, "", for: "h.io/a/b:1"))
            #expect(try !accepts(rule, "H.IO/A B:1", for: "h.io/a/b:1"))
        }
    }
}
