import Foundation
import Testing
@testable import OCILayout

@Suite struct DigestTests {
    @Test func parsesAndHashes() throws {
        let digest = Digest.sha256(of: Data("hello".utf8))
        #expect(digest.description == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(try Digest(parsing: digest.description) == digest)
    }

    @Test(arguments: ["sha256:abc", "sha256:" + String(repeating: "A", count: 64), "nocolon", "sha256:", ":" + String(repeating: "a", count: 64)])
    func refusesMalformed(text: String) {
        #expect(throws: OCILayoutError.invalidDigest(text)) { try Digest(parsing: text) }
    }

    @Test func refusesOtherAlgorithms() {
        let text = "sha512:" + String(repeating: "a", count: 128)
        #expect(throws: OCILayoutError.unsupportedDigestAlgorithm(text)) { try Digest(parsing: text) }
    }

    @Test func verifyNamesBothDigests() throws {
        let expected = Digest.sha256(of: Data("a".utf8))
        #expect(throws: OCILayoutError.digestMismatch(expected: expected, actual: Digest.sha256(of: Data("b".utf8)))) {
            try expected.verify(Data("b".utf8))
        }
    }
}

@Suite struct PlatformTests {
    func entry(_ platform: String, _ n: Int) -> Descriptor {
        let digest = Digest.sha256(of: Data([UInt8(n)]))
        return Descriptor(mediaType: MediaType.ociManifest, digest: digest, size: 1, platform: Platform(parsing: platform))
    }

    @Test func selectsByOsArchAndVariant() throws {
        let manifests = [entry("linux/amd64", 1), entry("linux/arm/v6", 2), entry("linux/arm/v7", 3), entry("linux/arm64/v8", 4), entry("unknown/unknown", 5)]
        #expect(Platform(parsing: "linux/amd64")?.select(from: manifests) == manifests[0])
        #expect(Platform(parsing: "linux/arm/v7")?.select(from: manifests) == manifests[2])
        #expect(Platform(parsing: "linux/arm64")?.select(from: manifests) == manifests[3])
        #expect(Platform(parsing: "linux/arm64/v8")?.select(from: manifests) == manifests[3])
        #expect(Platform(parsing: "linux/arm")?.select(from: manifests) == manifests[1])
        #expect(Platform(parsing: "linux/riscv64")?.select(from: manifests) == nil)
        #expect(Platform(parsing: "windows/amd64")?.select(from: manifests) == nil)
    }

    @Test func arm64WithoutVariantMeansV8() {
        #expect(Platform(os: "linux", architecture: "arm64", variant: "v8").matches(Platform(os: "linux", architecture: "arm64")))
        #expect(!Platform(os: "linux", architecture: "arm", variant: "v7").matches(Platform(os: "linux", architecture: "arm", variant: "v6")))
    }

    @Test func parsesFlagSyntax() {
        #expect(Platform(parsing: "linux/arm/v7") == Platform(os: "linux", architecture: "arm", variant: "v7"))
        #expect(Platform(parsing: "linux") == nil)
        #expect(Platform(parsing: "linux//v7") == nil)
        #expect(Platform(parsing: "a/b/c/d") == nil)
        #expect(Platform.host.os == "linux")
    }
}
