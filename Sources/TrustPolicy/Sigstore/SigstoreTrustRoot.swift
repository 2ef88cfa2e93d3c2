import Foundation
import X509

/// What a `sigstoreSigned` requirement trusts, its keys and certificates read: public keys
/// (with, when the policy names Rekor keys, a log entry for each signature), or keyless Fulcio
/// certificates logged in Rekor.
enum SigstoreTrustRoot: Sendable {
    case keys([(key: SigstorePublicKey, source: String)], rekor: [SigstorePublicKey]?)
    case fulcio(FulcioTrust, rekor: [SigstorePublicKey])

    /// How `signature` (its raw bytes `raw`, base64 `base64` in its annotation) was made by
    /// what this root trusts, for records ("ECDSA P-256 key sha256:… (/etc/pki/app.pub)"), or
    /// why it was not.
    func signer(of signature: SigstoreSignature, raw: Data, base64: String) async -> Result<String, SignatureFault> {
        switch self {
        case .keys(let keys, let rekor):
            guard let signer = keys.first(where: { $0.key.isValidSignature(raw, of: signature.payload) }) else { return .failure(.otherKey) }
            let made = "\(signer.key.kind) key \(signer.key.fingerprint) (\(signer.source))"
            guard let rekor else { return .success(made) }
            return RekorSET.verify(
                signature.annotations[SigstoreSignature.bundleAnnotation], logKeys: rekor, signer: signer.key.derRepresentation, signature: base64,
                payload: signature.payload
            ).map { "\(made), logged in Rekor at \(Self.timestamp($0))" }
        case .fulcio(let fulcio, let rekor):
            let leaf: (certificate: Certificate, der: Data)
            switch FulcioTrust.leaf(in: signature.annotations[SigstoreSignature.certificateAnnotation]) {
            case .failure(let fault): return .failure(fault)
            case .success(let found): leaf = found
            }
            let logged: Date
            switch RekorSET.verify(
                signature.annotations[SigstoreSignature.bundleAnnotation], logKeys: rekor, signer: leaf.der, signature: base64, payload: signature.payload)
            {
            case .failure(let fault): return .failure(fault)
            case .success(let time): logged = time
            }
            let key: SigstorePublicKey
            switch await fulcio.publicKey(of: leaf.certificate, chainPEM: signature.annotations[SigstoreSignature.chainAnnotation], at: logged) {
            case .failure(let fault): return .failure(fault)
            case .success(let certified): key = certified
            }
            guard key.isValidSignature(raw, of: signature.payload) else { return .failure(.malformed("it is not made by its certificate's key")) }
            return .success(
                "Fulcio certificate for \(fulcio.subjectEmail) from \(fulcio.oidcIssuer) (\(key.kind) key), logged in Rekor at \(Self.timestamp(logged))")
        }
    }

    /// Which trusted key signed `bundle`, for records, or why none did. Only bundles signed by a
    /// key the policy names are checked; their log entries and keyless (certificate) bundles are
    /// not verified by this mbctl, so a policy that asks for a log or a Fulcio certificate
    /// refuses every bundle, saying so.
    func bundleSigner(of bundle: SigstoreBundle) -> Result<String, SignatureFault> {
        switch self {
        case .keys(let keys, let rekor):
            guard rekor == nil else { return .failure(.unlogged("a Sigstore bundle's log entries are not checked by this mbctl")) }
            guard let signer = keys.first(where: { $0.key.isValidSignature(bundle.signature, of: bundle.signedBytes, hashing: .matchingCurve) }) else {
                return .failure(.otherKey)
            }
            return .success("\(signer.key.kind) key \(signer.key.fingerprint) (\(signer.source)) in a Sigstore bundle")
        case .fulcio:
            return .failure(.uncertified("keyless Sigstore bundles are not verified by this mbctl"))
        }
    }

    static func timestamp(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
