import Foundation
import OCILayout
import RegistryClient
import TestSupport
import Testing
import TrustPolicy

/// cosign 3's Sigstore bundles (a DSSE envelope over an in-toto statement naming the manifest
/// digest), made in cosign's exact form by `Tests/Fixtures/sigstore-sign.py bundle-json` with
/// Python's `cryptography`, are verified with the policy's keys: accepted when a trusted key
/// signed a signature statement about this manifest; refused, saying why, otherwise.
struct SigstoreBundleTests {
    typealias Fixed = SigstoreVerificationTests.FixedSignatures
    static let signer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/sigstore-sign.py").path
    static let image = "192.168.64.2:5000/cosign-signed-single-sample:latest"

    static func manifest() throws -> ManifestDocument { try SigstoreVerificationTests.manifest("dir-img-cosign-valid-manifest.json") }

    /// Key pairs (`NAME.pem`, `NAME.pub`) made as a test first names them, in a directory
    /// removed with the test: p256, p384, ed25519, rsa, and "other" (P-256).
    let keys = NSTemporaryDirectory() + "mbctl-bundle-keys-\(UUID().uuidString)"
    let cleanup: Cleanup

    final class Cleanup: Sendable {
        let path: String
        init(_ path: String) { self.path = path }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    init() throws {
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        cleanup = Cleanup(keys)
    }

    func key(_ name: String) throws -> String {
        let path = "\(keys)/\(name)"
        if !FileManager.default.fileExists(atPath: path + ".pem") {
            try runCommand(["python3", Self.signer, "keygen", name == "other" ? "p256" : name, path + ".pem", path + ".pub"], deadline: 60)
        }
        return path
    }

    func bundle(key name: String = "p256", _ options: [String] = []) throws -> Data {
        let digest = try Self.manifest().digest.description
        return Data(try runCommand(["python3", Self.signer, "bundle-json", digest, try key(name) + ".pem"] + options, deadline: 60).stdout.utf8)
    }

    func policy(key name: String = "p256", identity: String = #"{"type": "matchRepoDigestOrExact"}"#, extra: String = "") throws -> String {
        """
        {"default": [{"type": "sigstoreSigned", "keyPath": "\(try key(name)).pub", "signedIdentity": \(identity)\(extra)}]}
        """
    }

    func verify(_ policy: String, image: String = Self.image, bundles: [Data]) async throws -> ImageVerification {
        let reference = try ImageReference(parsing: image)
        return try await SigstoreVerificationTests.verifier(policy).verify(
            .docker(reference), image: "docker://\(reference)", manifest: try Self.manifest(), signatures: Fixed(bundles: bundles))
    }

    func refusal(_ policy: String, image: String = Self.image, bundles: [Data]) async throws -> String {
        do {
            let accepted = try await verify(policy, image: image, bundles: bundles)
            Issue.record("accepted: \(accepted.summary)")
            return ""
        } catch let error as TrustPolicyError {
            guard case .refused(_, let reason) = error else { throw error }
            return reason
        }
    }

    @Test(arguments: ["p256", "p384", "ed25519", "rsa"])
    func aBundleByATrustedKeyIsAccepted(key: String) async throws {
        let accepted = try await verify(try policy(key: key), bundles: [try bundle(key: key)])
        #expect(accepted.requirements.count == 1)
        #expect(accepted.requirements[0].hasPrefix("sigstoreSigned by "))
        #expect(accepted.requirements[0].contains("in a Sigstore bundle for this manifest, naming no image (taken as \(Self.image))"))
    }

    @Test func anotherKeyAnotherManifestAndAnAttestationAreRefused() async throws {
        let other = try await refusal(try policy(), bundles: [try bundle(key: "other")])
        #expect(other == "its one signature is made by a key the policy does not trust")
        let moved = try await refusal(try policy(), bundles: [try bundle(["--signed-digest", "sha256:" + String(repeating: "b", count: 64)])])
        #expect(moved == "its one signature is for another image (sha256:\(String(repeating: "b", count: 64)))")
        let attestation = try await refusal(try policy(), bundles: [try bundle(["--predicate-type", "https://slsa.dev/provenance/v1"])])
        #expect(attestation == "its one signature is not an image signature: an attestation of https://slsa.dev/provenance/v1")
    }

    @Test func aNamedSubjectIsJudgedByItsNameAnUnnamedOneByThePulledName() async throws {
        let named = try bundle(["--name", "192.168.64.2:5000/other"])
        let mismatch = try await refusal(try policy(identity: #"{"type": "matchRepository"}"#), bundles: [named])
        #expect(mismatch == "its one signature is identity 192.168.64.2:5000/other does not match")
        _ = try await verify(try policy(identity: #"{"type": "matchRepository"}"#), image: "192.168.64.2:5000/other:v2", bundles: [named])
        // exactReference pins the name even when the bundle gives none.
        let pinned = try await refusal(
            try policy(identity: #"{"type": "exactReference", "dockerReference": "192.168.64.2:5000/pinned:v1"}"#), bundles: [try bundle()])
        #expect(pinned == "its one signature is identity (none: the bundle names no image) does not match")
    }

    @Test func aPolicyThatAsksForALogOrACertificateRefusesBundles() async throws {
        let rekor = SigstoreVerificationTests.fixtures.appendingPathComponent("rekor.pub").path
        let logged = try await refusal(try policy(extra: #", "rekorPublicKeyPath": "\#(rekor)""#), bundles: [try bundle()])
        #expect(logged == "its one signature is not logged as the policy requires: a Sigstore bundle's log entries are not checked by this mbctl")
        let fulcio = SigstoreVerificationTests.fixtures.appendingPathComponent("fulcio_v1.crt.pem").path
        let keyless = try await refusal(
            """
            {"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "\(fulcio)", "oidcIssuer": "https://github.com/login/oauth",
              "subjectEmail": "cody@soyland.com"}, "rekorPublicKeyPath": "\(rekor)", "signedIdentity": {"type": "matchRepository"}}]}
            """, bundles: [try bundle()])
        #expect(keyless == "its one signature is not certified as the policy requires: keyless Sigstore bundles are not verified by this mbctl")
    }

    @Test func cosignsOwnKeylessAttestationBundleIsNoSignatureOfThisImage() async throws {
        let data = try Data(contentsOf: ContainersPolicyTests.fixtures.appendingPathComponent("cosign/oci-attestation.sigstore.json"))
        let bundle = try SigstoreBundle(parsing: data)
        #expect(bundle.material == .certificate)
        let statement = try InTotoStatement(parsing: bundle.payload)
        #expect(statement.predicateType == "https://cosign.sigstore.dev/attestation/v1")
        #expect(statement.subjects.map(\.name) == ["127.0.0.1:60943/repo"])
        let reason = try await refusal(try policy(), bundles: [data])
        #expect(reason == "its one signature is made by a key the policy does not trust")
    }

    @Test func malformedBundlesAreCountedNotTrusted() async throws {
        func object(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }
        var twoSignatures = try object(try bundle())
        var envelope = try #require(twoSignatures["dsseEnvelope"] as? [String: Any])
        let signatures = try #require(envelope["signatures"] as? [[String: Any]])
        envelope["signatures"] = signatures + signatures
        twoSignatures["dsseEnvelope"] = envelope
        var message = try object(try bundle())
        message["messageSignature"] = ["messageDigest": ["algorithm": "SHA2_256", "digest": ""], "signature": ""]
        let bundles = try [twoSignatures, message].map { try JSONSerialization.data(withJSONObject: $0) } + [Data("[]".utf8), Data("{}".utf8)]
        let reason = try await refusal(try policy(), bundles: bundles)
        #expect(
            reason == "none of its 4 signatures matches the policy: 1 malformed: the envelope does not hold exactly one signature, "
                + "1 not an image signature: a message signature, not a signed statement about an image, 1 malformed: the bundle is not a JSON object, "
                + "1 malformed: the bundle has no Sigstore bundle media type")
    }
}
