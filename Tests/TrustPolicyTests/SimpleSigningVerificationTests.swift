import Foundation
import OCILayout
import RegistryClient
import Testing
import TestSupport
import TrustPolicy

/// OpenPGP "simple signing" signatures (containers/image's fixtures, made by atomic and skopeo)
/// verified through gpgme against the policy's keyring only: accepted by the key or a subkey of
/// the key that made them, refused by another key, for another manifest, or under a name the
/// identity rule does not accept.
struct SimpleSigningVerificationTests {
    static let fixtures = SigstoreVerificationTests.fixtures
    static let image = "testing/manifest:latest"

    func verify(
        key: String, identity: String = #"{"type": "matchRepoDigestOrExact"}"#, image: String = Self.image, manifest: String = "image.manifest.json",
        signatures: [String]
    )
        async throws -> ImageVerification
    {
        let policy = """
            {"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "\(key.hasPrefix("/") ? key : Self.fixtures.appendingPathComponent(key).path)", "signedIdentity": \(identity)}]}
            """
        let reference = try ImageReference(parsing: image)
        let simple = try signatures.map { try Data(contentsOf: $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : Self.fixtures.appendingPathComponent($0)) }
        return try await SigstoreVerificationTests.verifier(policy).verify(
            .docker(reference), image: "docker://\(reference)", manifest: try SigstoreVerificationTests.manifest(manifest),
            signatures: SigstoreVerificationTests.FixedSignatures(simple: simple))
    }

    func refusal(
        key: String, identity: String = #"{"type": "matchRepoDigestOrExact"}"#, image: String = Self.image, manifest: String = "image.manifest.json",
        signatures: [String]
    )
        async throws -> String
    {
        do {
            let accepted = try await verify(key: key, identity: identity, image: image, manifest: manifest, signatures: signatures)
            Issue.record("accepted: \(accepted.summary)")
            return ""
        } catch TrustPolicyError.refused(_, let reason) {
            return reason
        }
    }

    @Test func aSignatureByTheKeyOrItsSubkeyIsAccepted() async throws {
        let accepted = try await verify(key: "public-key.gpg", signatures: ["dir-img-valid-signature-1"])
        #expect(accepted.requirements == ["signedBy GPG key 08CD26E446E2E95249B7A405E932F44B23E8DD43 as testing/manifest:latest"])
        let bySubkey = try await verify(key: "public-key-with-subkey.gpg", signatures: ["subkey.signature"])
        #expect(bySubkey.requirements.first?.hasPrefix("signedBy GPG key ") == true)
    }

    @Test func anotherKeyAnotherManifestOrAnotherNameIsRefused() async throws {
        #expect(
            try await refusal(key: "public-key-2.gpg", signatures: ["dir-img-valid-signature-1"])
                == "its one signature is made by a key the policy does not trust")
        #expect(
            try await refusal(key: "public-key.gpg", manifest: "dir-img-modified-manifest-manifest.json", signatures: ["dir-img-valid-signature-1"])
                == "its one signature is for another image (sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55)")
        #expect(
            try await refusal(key: "public-key.gpg", image: "testing/manifest:v2", signatures: ["dir-img-valid-signature-1"])
                == "its one signature is identity testing/manifest:latest does not match")
        #expect(try await refusal(key: "public-key.gpg", signatures: []) == "unsigned: it has no simple-signing (GPG) signature")
    }

    @Test func garbageIsMalformedAndAKeyringWithoutKeysIsNamed() async throws {
        let garbage = NSTemporaryDirectory() + "mbctl-garbage-\(UUID().uuidString)"
        try Data("not an OpenPGP message".utf8).write(to: URL(fileURLWithPath: garbage))
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let reason = try await refusal(key: "public-key.gpg", signatures: [garbage])
        #expect(reason.hasPrefix("its one signature is malformed: "), "\(reason)")
        await #expect(
            throws: TrustPolicyError.invalidKey(source: Self.fixtures.appendingPathComponent("cosign.pub").path, reason: "it holds no OpenPGP public key")
        ) {
            _ = try await verify(key: "cosign.pub", signatures: ["dir-img-valid-signature-1"])
        }
    }

    @Test func aSignatureThatUnpacksIntoTooMuchIsRefusedWithoutHoldingIt() async throws {
        // A compressed OpenPGP message: 8 MiB of zeros signed by a trusted key is a few KiB.
        let work = NSTemporaryDirectory() + "mbctl-gpg-bomb-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: "\(work)/home", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer {
            _ = try? runCommand(["gpgconf", "--kill", "gpg-agent"], environment: ["GNUPGHOME": "\(work)/home", "PATH": "/usr/bin:/bin"], check: false)
            try? FileManager.default.removeItem(atPath: work)
        }
        let environment = ["GNUPGHOME": "\(work)/home", "PATH": "/usr/bin:/bin"]
        try runCommand(
            ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", "bomb <bomb@mbctl.invalid>", "ed25519", "sign", "never"],
            environment: environment)
        try Data(count: 8 << 20).write(to: URL(fileURLWithPath: "\(work)/zeros"))
        try runCommand(["gpg", "--batch", "--yes", "--output", "\(work)/zeros.sig", "--sign", "\(work)/zeros"], environment: environment)
        try runCommand(["sh", "-c", "gpg --batch --export > \(work)/bomb.gpg"], environment: environment)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(work)/zeros.sig")).count < 1 << 20)
        let reason = try await refusal(key: "\(work)/bomb.gpg", signatures: ["\(work)/zeros.sig"])
        #expect(reason == "its one signature is malformed: its signed contents are larger than 1048576 bytes")
    }
}
