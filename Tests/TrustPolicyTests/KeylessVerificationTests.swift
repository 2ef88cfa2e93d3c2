import Foundation
import OCILayout
import RegistryClient
import Testing
import TrustPolicy

/// Signatures logged in Rekor and keyless (Fulcio) signatures cosign made (containers/image's
/// fixtures), checked offline as containers/image checks them: the Rekor SET signed by the
/// policy's Rekor key and naming this very signature, key and payload; the Fulcio certificate
/// chained to the policy's CA at the time the log saw it, for the policy's issuer and email.
struct KeylessVerificationTests {
    static let fixtures = SigstoreVerificationTests.fixtures
    static func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static let keyImage = "192.168.64.2:5000/cosign-signed/key-1:latest"
    static let keylessImage = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1:latest"

    static func keyPolicy(rekor: [String] = ["rekor.pub"]) -> String {
        let keys = rekor.map { "\"\(path($0))\"" }.joined(separator: ", ")
        return """
            {"default": [{"type": "sigstoreSigned", "keyPath": "\(path("cosign2.pub"))", "rekorPublicKeyPaths": [\(keys)],
              "signedIdentity": {"type": "matchRepository"}}]}
            """
    }

    static func fulcioPolicy(ca: String = "fulcio_v1.crt.pem", issuer: String = "https://github.com/login/oauth", email: String = "mitr@redhat.com")
        -> String
    {
        """
        {"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "\(path(ca))", "oidcIssuer": "\(issuer)", "subjectEmail": "\(email)"},
          "rekorPublicKeyPath": "\(path("rekor.pub"))", "signedIdentity": {"type": "matchRepository"}}]}
        """
    }

    /// What the policy decides for `image` with `signature` (the fixture, its annotations
    /// changed by `change`): how it was accepted, or the refusal's reason.
    static func decide(
        _ policy: String, image: String, fixture: String, change: (inout [String: String]) -> Void = { _ in }
    ) async throws -> Result<String, TrustPolicyError> {
        var signature = try SigstoreVerificationTests.signature("\(fixture)-signature-1")
        change(&signature.annotations)
        let reference = try ImageReference(parsing: image)
        do {
            let accepted = try await SigstoreVerificationTests.verifier(policy).verify(
                .docker(reference), image: "docker://\(reference)", manifest: try SigstoreVerificationTests.manifest("\(fixture)-manifest.json"),
                signatures: SigstoreVerificationTests.FixedSignatures(signatures: [signature]))
            return .success(accepted.requirements.joined(separator: "; "))
        } catch let error as TrustPolicyError {
            return .failure(error)
        }
    }

    static func reason(_ result: Result<String, TrustPolicyError>) -> String {
        guard case .failure(.refused(_, let reason)) = result else { return "not refused: \(result)" }
        return reason
    }

    @Test(arguments: [["rekor.pub"], ["rekor.pub", "cosign.pub"], ["cosign.pub", "rekor.pub"]])
    func aKeySignatureLoggedInRekorIsAccepted(rekor: [String]) async throws {
        let accepted = try await Self.decide(Self.keyPolicy(rekor: rekor), image: Self.keyImage, fixture: "dir-img-cosign-key-rekor-valid").get()
        #expect(accepted.hasPrefix("sigstoreSigned by ECDSA P-256 key sha256:"), "\(accepted)")
        #expect(accepted.contains(", logged in Rekor at 20") && accepted.hasSuffix("as 192.168.64.2:5000/cosign-signed/key-1"), "\(accepted)")
    }

    @Test func aKeySignatureWithoutAValidLogEntryIsRefused() async throws {
        let fixture = "dir-img-cosign-key-rekor-valid"
        let bundle = SigstoreSignature.bundleAnnotation
        let missing = try await Self.decide(Self.keyPolicy(), image: Self.keyImage, fixture: fixture) { $0[bundle] = nil }
        #expect(Self.reason(missing) == "its one signature is not logged as the policy requires: it has no \(bundle) annotation")
        let garbled = try await Self.decide(Self.keyPolicy(), image: Self.keyImage, fixture: fixture) { $0[bundle] = #"{"SignedEntryTimestamp": 1}"# }
        #expect(Self.reason(garbled).hasSuffix("its Rekor bundle is not a signed entry timestamp"))
        let otherLog = try await Self.decide(Self.keyPolicy(rekor: ["cosign.pub"]), image: Self.keyImage, fixture: fixture)
        #expect(Self.reason(otherLog).hasSuffix("its Rekor entry is not signed by the policy's Rekor key"))
        // The SET of the keyless signature, moved onto this one: signed by the log, for another
        // signature and certificate.
        let keyless = try SigstoreVerificationTests.signature("dir-img-cosign-fulcio-rekor-valid-signature-1")
        let moved = try await Self.decide(Self.keyPolicy(), image: Self.keyImage, fixture: fixture) { $0[bundle] = keyless.annotations[bundle] }
        #expect(Self.reason(moved).hasSuffix("its Rekor entry is for another key or certificate"))
        // One integer changed in the logged entry: the log's signature no longer holds.
        let original = try SigstoreVerificationTests.signature("\(fixture)-signature-1").annotations[bundle] ?? ""
        let tampered = try await Self.decide(Self.keyPolicy(), image: Self.keyImage, fixture: fixture) {
            $0[bundle] = original.replacingOccurrences(of: "\"logIndex\":", with: "\"logIndex\":1")
        }
        #expect(Self.reason(tampered).hasSuffix("its Rekor entry is not signed by the policy's Rekor key"), "\(tampered)")
    }

    @Test func aKeylessSignatureChainedToTheCAForThePolicysIdentityIsAccepted() async throws {
        let accepted = try await Self.decide(Self.fulcioPolicy(), image: Self.keylessImage, fixture: "dir-img-cosign-fulcio-rekor-valid").get()
        #expect(
            accepted.hasPrefix(
                "sigstoreSigned by Fulcio certificate for mitr@redhat.com from https://github.com/login/oauth (ECDSA P-256 key), logged in Rekor at"),
            "\(accepted)")
    }

    @Test func aKeylessSignatureForAnotherIdentityOrCAIsRefused() async throws {
        let fixture = "dir-img-cosign-fulcio-rekor-valid"
        let email = try await Self.decide(Self.fulcioPolicy(email: "someone@example.com"), image: Self.keylessImage, fixture: fixture)
        #expect(
            Self.reason(email)
                == "its one signature is not certified as the policy requires: its certificate is not for someone@example.com (it names mitr@redhat.com)")
        let issuer = try await Self.decide(Self.fulcioPolicy(issuer: "https://accounts.example.com"), image: Self.keylessImage, fixture: fixture)
        #expect(Self.reason(issuer).hasSuffix("its certificate is issued for https://github.com/login/oauth, not https://accounts.example.com"))
        let ca = try await Self.decide(Self.fulcioPolicy(ca: "pki_root_crts.pem"), image: Self.keylessImage, fixture: fixture)
        #expect(Self.reason(ca).hasSuffix("its certificate does not chain to the policy's Fulcio CA at the time the log saw it"))
        let noCertificate = try await Self.decide(Self.fulcioPolicy(), image: Self.keylessImage, fixture: fixture) {
            $0[SigstoreSignature.certificateAnnotation] = nil
        }
        #expect(Self.reason(noCertificate).hasSuffix("it has no \(SigstoreSignature.certificateAnnotation) annotation"))
        // Another certificate (the chain's intermediate) put in the leaf's place: the log names
        // the leaf.
        let swapped = try await Self.decide(Self.fulcioPolicy(), image: Self.keylessImage, fixture: fixture) { annotations in
            let chain = annotations[SigstoreSignature.chainAnnotation] ?? ""
            annotations[SigstoreSignature.certificateAnnotation] = String(
                chain[..<(chain.range(of: "-----END CERTIFICATE-----")?.upperBound ?? chain.endIndex)])
        }
        #expect(Self.reason(swapped).hasSuffix("its Rekor entry is for another key or certificate"), "\(swapped)")
    }

    @Test func aFulcioPolicyWithAKeyThatIsNoCertificateIsAnError() async throws {
        let result = try await Self.decide(Self.fulcioPolicy(ca: "cosign.pub"), image: Self.keylessImage, fixture: "dir-img-cosign-fulcio-rekor-valid")
        guard case .failure(.invalidKey(_, let reason)) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(reason == "it holds no PEM certificate")
    }
}
