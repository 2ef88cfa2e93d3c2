import Foundation

/// A Sigstore bundle as cosign 3 attaches it to an image (cosign's BUNDLE_SPEC: an OCI 1.1
/// referrer of the image whose one layer is the bundle): verification material (a public key's
/// hint, or a certificate and log entries) and a DSSE envelope whose payload is an in-toto
/// statement about the image's manifest digest. Untrusted until a key verifies the envelope.
///
/// Read strictly: a bundle whose content is not one DSSE envelope with one signature is refused
/// as malformed rather than guessed at.
public struct SigstoreBundle: Sendable, Equatable {
    /// The media types of bundles (`application/vnd.dev.sigstore.bundle.v0.3+json`, and the older
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2` form) all start so.
    public static let mediaTypePrefix = "application/vnd.dev.sigstore.bundle"
    /// The payload type of a DSSE envelope holding an in-toto statement.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    /// What vouches for the signing key.
    public enum Material: Sendable, Equatable {
        /// A public key the verifier must already hold (the bundle carries only a hint).
        case publicKey
        /// A (Fulcio) certificate or chain, with the log entries that time it.
        case certificate
    }

    public var material: Material
    /// The envelope's payload: the statement that was signed.
    public var payload: Data
    /// The envelope's one signature (raw bytes: DER for ECDSA).
    public var signature: Data

    /// The bundle in `data`, or why it is none mbctl can check.
    public init(parsing data: Data) throws(SignatureFault) {
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw .malformed("the bundle is not a JSON object") }
        guard let mediaType = top["mediaType"] as? String, mediaType.hasPrefix(Self.mediaTypePrefix) else {
            throw .malformed("the bundle has no Sigstore bundle media type")
        }
        guard let material = top["verificationMaterial"] as? [String: Any] else { throw .malformed("the bundle has no verificationMaterial") }
        if material["publicKey"] is [String: Any] {
            self.material = .publicKey
        } else if material["certificate"] is [String: Any] || material["x509CertificateChain"] is [String: Any] {
            self.material = .certificate
        } else {
            throw .malformed("the bundle's verificationMaterial names no key or certificate")
        }
        guard top["messageSignature"] == nil else { throw .notAnImageSignature("a message signature, not a signed statement about an image") }
        guard let envelope = top["dsseEnvelope"] as? [String: Any] else { throw .malformed("the bundle holds no DSSE envelope") }
        guard envelope["payloadType"] as? String == Self.inTotoPayloadType else {
            throw .notAnImageSignature("its envelope holds no in-toto statement (payloadType is not \(Self.inTotoPayloadType))")
        }
        guard let payloadText = envelope["payload"] as? String, let payload = Data(base64Encoded: payloadText) else {
            throw .malformed("the envelope's payload is not base64")
        }
        guard let signatures = envelope["signatures"] as? [[String: Any]], signatures.count == 1 else {
            throw .malformed("the envelope does not hold exactly one signature")
        }
        guard let signatureText = signatures[0]["sig"] as? String, let signature = Data(base64Encoded: signatureText), !signature.isEmpty else {
            throw .malformed("the envelope's signature is not base64")
        }
        self.payload = payload
        self.signature = signature
    }

    /// What the envelope's signature signs: DSSE's pre-authentication encoding of the payload
    /// type and payload ("DSSEv1 LEN TYPE LEN PAYLOAD").
    public var signedBytes: Data {
        var bytes = Data("DSSEv1 \(Self.inTotoPayloadType.utf8.count) \(Self.inTotoPayloadType) \(payload.count) ".utf8)
        bytes.append(payload)
        return bytes
    }
}
