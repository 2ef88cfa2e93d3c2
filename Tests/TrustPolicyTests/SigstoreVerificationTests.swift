import Foundation
import OCILayout
import RegistryClient
import Testing
import TrustPolicy

/// Signatures skopeo made (containers/image's fixtures) are verified as containers/image
/// verifies them: accepted with the key that made them, for the manifest they name, under an
/// identity rule that accepts their name; refused, with the cause counted, otherwise.
struct SigstoreVerificationTests {
    static let fixtures = ContainersPolicyTests.fixtures.appendingPathComponent("containers-image")

    /// Signatures of the same images, as a registry attachment would hand them over.
    struct FixedSignatures: SignatureSource {
        var signatures: [SigstoreSignature] = []
        var simple: [Data] = []
        /// Bundles as their bytes (handed over in referrers no test looks at).
        var bundles: [Data] = []
        func sigstoreSignatures(of digest: Digest) async throws -> [SigstoreSignature] { signatures }
        func sigstoreBundles(of digest: Digest) async throws -> [AttachedBundle] {
            bundles.map { bundle in
                let manifest = ManifestDocument(data: Data("{}".utf8), mediaType: MediaType.ociManifest, digest: .sha256(of: Data("{}".utf8)))
                let entry = Descriptor(mediaType: MediaType.ociManifest, digest: manifest.digest, size: 2)
                let config = Descriptor(mediaType: "application/vnd.oci.empty.v1+json", digest: .sha256(of: AttachedBundle.emptyConfig), size: 2)
                let layer = Descriptor(mediaType: SigstoreBundle.mediaTypePrefix, digest: .sha256(of: bundle), size: Int64(bundle.count))
                return AttachedBundle(entry: entry, manifest: manifest, config: (config, AttachedBundle.emptyConfig), bundle: (layer, bundle))
            }
        }
        func simpleSignatures(of digest: Digest) async throws -> [Data] { simple }
    }

    /// Reads containers/image's on-disk signature: "\0sigstore-json\n" and JSON.
    static func signature(_ name: String) throws -> SigstoreSignature {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        let prefix = Data("\0sigstore-json\n".utf8)
        #expect(data.starts(with: prefix))
        let object = try #require(try JSONSerialization.jsonObject(with: data.dropFirst(prefix.count)) as? [String: Any])
        let text = try #require(object["payload"] as? String)
        let payload = try #require(Data(base64Encoded: text))
        return SigstoreSignature(payload: payload, annotations: try #require(object["annotations"] as? [String: String]))
    }

    static func manifest(_ name: String) throws -> ManifestDocument {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return ManifestDocument(data: data, mediaType: MediaType.dockerManifest, digest: Digest.sha256(of: data))
    }

    static func verifier(_ policy: String) throws -> ImageVerifier {
        ImageVerifier(policy: try ContainersPolicy(parsing: Data(policy.utf8), source: "test-policy.json"), policySource: "test-policy.json")
    }

    static func keyPolicy(_ key: String = "cosign.pub", identity: String = #"{"type": "matchRepository"}"#) -> String {
        """
        {"default": [{"type": "reject"}], "transports": {"docker": {"192.168.64.2:5000": [
          {"type": "sigstoreSigned", "keyPath": "\(fixtures.appendingPathComponent(key).path)", "signedIdentity": \(identity)}]}}}
        """
    }

    func verify(_ policy: String, image: String, manifest: String = "dir-img-cosign-valid-manifest.json", signatures: [String]) async throws
        -> ImageVerification
    {
        let reference = try ImageReference(parsing: image)
        return try await Self.verifier(policy).verify(
            .docker(reference), image: "docker://\(reference)", manifest: try Self.manifest(manifest),
            signatures: FixedSignatures(signatures: try signatures.map(Self.signature)))
    }

    func refusal(_ policy: String, image: String, manifest: String = "dir-img-cosign-valid-manifest.json", signatures: [String]) async throws -> String {
        do {
            let accepted = try await verify(policy, image: image, manifest: manifest, signatures: signatures)
            Issue.record("accepted: \(accepted.summary)")
            return ""
        } catch let error as TrustPolicyError {
            guard case .refused(_, let reason) = error else { throw error }
            return reason
        }
    }

    @Test func skopeosSignatureIsAcceptedWithItsKey() async throws {
        let accepted = try await verify(
            Self.keyPolicy(), image: "192.168.64.2:5000/cosign-signed-single-sample:latest", signatures: ["dir-img-cosign-valid-signature-1"])
        #expect(accepted.scope == "docker:192.168.64.2:5000")
        #expect(accepted.requirements.count == 1)
        #expect(accepted.requirements[0].hasPrefix("sigstoreSigned by ECDSA P-256 key sha256:"))
        #expect(accepted.requirements[0].hasSuffix("as 192.168.64.2:5000/cosign-signed-single-sample"))
        #expect(accepted.manifestDigest == "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00")
    }

    @Test func anotherKeyIsRefused() async throws {
        let reason = try await refusal(
            Self.keyPolicy("cosign2.pub"), image: "192.168.64.2:5000/cosign-signed-single-sample:latest",
            signatures: ["dir-img-cosign-valid-signature-1", "dir-img-cosign-valid-2-signature-2"])
        #expect(reason == "none of its 2 signatures matches the policy: 2 made by a key the policy does not trust")
    }

    @Test func aSignatureOfAnotherManifestIsRefused() async throws {
        let reason = try await refusal(
            Self.keyPolicy(), image: "192.168.64.2:5000/cosign-signed-single-sample:latest", manifest: "dir-img-cosign-modified-manifest-manifest.json",
            signatures: ["dir-img-cosign-valid-signature-1"])
        #expect(reason == "its one signature is for another image (sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00)")
    }

    @Test func identityRulesDecideOnTheSignedName() async throws {
        // The default rule wants the tag pulled; the signature names the repository only.
        let exact = try await refusal(
            Self.keyPolicy(identity: #"{"type": "matchRepoDigestOrExact"}"#), image: "192.168.64.2:5000/cosign-signed-single-sample:latest",
            signatures: ["dir-img-cosign-valid-signature-1"])
        #expect(exact == "its one signature is identity 192.168.64.2:5000/cosign-signed-single-sample does not match")
        // A signature with a tag, for the tag pulled: accepted by default; for another repository: refused.
        _ = try await verify(
            Self.keyPolicy(identity: #"{"type": "matchRepoDigestOrExact"}"#), image: "192.168.64.2:5000/skopeo-signed:tag",
            signatures: ["dir-img-cosign-valid-with-tag-signature-1"])
        let other = try await refusal(Self.keyPolicy(), image: "192.168.64.2:5000/other:tag", signatures: ["dir-img-cosign-valid-with-tag-signature-1"])
        #expect(other == "its one signature is identity 192.168.64.2:5000/skopeo-signed:tag does not match")
        // A mirror whose images are signed under the upstream name.
        _ = try await verify(
            """
            {"default": [{"type": "sigstoreSigned", "keyPath": "\(Self.fixtures.appendingPathComponent("cosign.pub").path)",
              "signedIdentity": {"type": "remapIdentity", "prefix": "mirror.example:5000/m", "signedPrefix": "192.168.64.2:5000"}}]}
            """, image: "mirror.example:5000/m/skopeo-signed:tag", signatures: ["dir-img-cosign-valid-with-tag-signature-1"])
    }

    @Test func unsignedAndRejectedSayWhy() async throws {
        let unsigned = try await refusal(Self.keyPolicy(), image: "192.168.64.2:5000/app:v1", signatures: [])
        #expect(unsigned == "unsigned: it has no sigstore signature")
        let rejected = try await refusal(Self.keyPolicy(), image: "example.com/app:v1", signatures: ["dir-img-cosign-valid-signature-1"])
        #expect(rejected == "rejected by policy for default")
    }

    @Test func everyRequirementOfTheScopeMustBeMet() async throws {
        let both = """
            {"default": [{"type": "insecureAcceptAnything"},
              {"type": "sigstoreSigned", "keyPath": "\(Self.fixtures.appendingPathComponent("cosign2.pub").path)"}]}
            """
        let reason = try await refusal(both, image: "192.168.64.2:5000/skopeo-signed:tag", signatures: ["dir-img-cosign-valid-with-tag-signature-1"])
        #expect(reason == "its one signature is made by a key the policy does not trust")
    }

    @Test func whatMbctlCannotCheckIsRefusedNeverSkipped() async throws {
        let key = Self.fixtures.appendingPathComponent("cosign.pub").path
        let cases = [
            (#"{"default": [{"type": "sigstoreSigned", "pki": {"caRootsPath": "\#(key)", "subjectEmail": "a@b"}}]}"#, "trusts a PKI"),
            (#"{"default": [{"type": "signedBy", "keyType": "X509Certificates", "keyPath": "\#(key)"}]}"#, "X509Certificates is not supported"),
            (#"{"default": [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepository"}}]}"#, "signedBaseLayer"),
        ]
        for (policy, word) in cases {
            let reason = try await refusal(policy, image: "192.168.64.2:5000/skopeo-signed:tag", signatures: ["dir-img-cosign-valid-with-tag-signature-1"])
            #expect(reason.contains(word), "\(reason)")
        }
    }

    @Test func aKeyFileThatHoldsNoKeyIsNamed() async throws {
        let bogus = NSTemporaryDirectory() + "mbctl-not-a-key-\(UUID().uuidString).pub"
        try Data("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".utf8).write(to: URL(fileURLWithPath: bogus))
        defer { try? FileManager.default.removeItem(atPath: bogus) }
        let policy = #"{"default": [{"type": "sigstoreSigned", "keyPath": "\#(bogus)"}]}"#
        await #expect(throws: TrustPolicyError.invalidKey(source: bogus, reason: "it holds no ECDSA, Ed25519 or RSA public key in PEM")) {
            _ = try await verify(policy, image: "192.168.64.2:5000/skopeo-signed:tag", signatures: ["dir-img-cosign-valid-with-tag-signature-1"])
        }
    }

    @Test func malformedSignaturesAreCountedNotTrusted() async throws {
        let good = try Self.signature("dir-img-cosign-valid-with-tag-signature-1")
        var noAnnotation = good
        noAnnotation.annotations = [:]
        var notBase64 = good
        notBase64.annotations[SigstoreSignature.signatureAnnotation] = "%%%"
        var tampered = good
        tampered.payload = Data(String(decoding: good.payload, as: UTF8.self).replacingOccurrences(of: "skopeo-signed", with: "skopeo-signex").utf8)
        let reference = try ImageReference(parsing: "192.168.64.2:5000/skopeo-signed:tag")
        do {
            _ = try await Self.verifier(Self.keyPolicy()).verify(
                .docker(reference), image: "x", manifest: try Self.manifest("dir-img-cosign-valid-manifest.json"),
                signatures: FixedSignatures(signatures: [noAnnotation, notBase64, tampered]))
            Issue.record("accepted")
        } catch TrustPolicyError.refused(_, let reason) {
            #expect(
                reason
                    == "none of its 3 signatures matches the policy: 1 malformed: no dev.cosignproject.cosign/signature annotation, 1 malformed: the signature is not base64, 1 made by a key the policy does not trust"
            )
        }
    }

    @Test func payloadsAreReadStrictly() throws {
        let digest = "sha256:" + String(repeating: "a", count: 64)
        let valid = SignaturePayload(manifestDigest: try Digest(parsing: digest), dockerReference: "h:1/r:t")
        let type = SignaturePayload.sigstoreType
        #expect(try SignaturePayload(parsing: valid.serialized(type: type, creator: "t", timestamp: 1), type: type) == valid)
        #expect(throws: SignatureFault.self) { try SignaturePayload(parsing: valid.serialized(type: type, creator: "t", timestamp: 1), type: "other") }
        let bad = [
            "[]", "{}", #"{"critical": {}, "optional": null}"#,
            #"{"critical": {"type": "cosign container image signature", "image": {"docker-manifest-digest": "sha256:zz"}, "identity": {"docker-reference": "a"}}, "optional": null}"#,
            #"{"critical": {"type": "other", "image": {"docker-manifest-digest": "\#(digest)"}, "identity": {"docker-reference": "a"}}, "optional": null}"#,
            #"{"critical": {"type": "cosign container image signature", "image": {"docker-manifest-digest": "\#(digest)"}, "identity": {"docker-reference": "a"}, "extra": 1}, "optional": null}"#,
            #"{"critical": {"type": "cosign container image signature", "image": {"docker-manifest-digest": "\#(digest)"}, "identity": {"docker-reference": 5}}, "optional": null}"#,
        ]
        for text in bad {
            #expect(throws: SignatureFault.self, "\(text)") { try SignaturePayload(parsing: Data(text.utf8), type: type) }
        }
    }
}
