import Foundation
import OCILayout
import RegistryClient
import BlockingWork

/// Decides, by a signature policy, whether an image may be used: after its manifest (or index)
/// is fetched and before anything else of it is, as containers/image's policy context does.
///
/// Every requirement of the scope that applies must be met. A signature counts only if one of
/// the requirement's keys made it, it names the very manifest that was fetched, and its identity
/// is one `signedIdentity` accepts for the image as the user named it.
public struct ImageVerifier: Sendable {
    public let policy: ContainersPolicy
    /// The policy's file, for records and messages.
    public let policySource: String
    /// The directory key paths are read under (`--root`); nil for the running system.
    public let root: String?

    /// The largest key file read.
    static let keyFileLimit = 1 << 20

    public init(policy: ContainersPolicy, policySource: String, root: String? = nil) {
        self.policy = policy
        self.policySource = policySource
        self.root = root
    }

    /// Verifies the image `subject` names, whose manifest (or index) is `manifest`, with the
    /// signatures `signatures` holds. Returns how the requirements were met; throws
    /// ``TrustPolicyError/refused(image:reason:)`` naming `image` and why when they are not.
    public func verify(_ subject: PolicySubject, image: String, manifest: ManifestDocument, signatures: SignatureSource) async throws
        -> ImageVerification
    {
        let (scope, requirements) = policy.requirements(for: subject)
        var met: [String] = []
        var fetched: [SigstoreSignature]?
        for requirement in requirements {
            switch requirement {
            case .insecureAcceptAnything:
                met.append("insecureAcceptAnything")
            case .reject:
                throw TrustPolicyError.refused(image: image, reason: "rejected by policy for \(scope)")
            case .signedBaseLayer:
                throw TrustPolicyError.refused(image: image, reason: "signedBaseLayer (\(scope)) is a requirement mbctl cannot check")
            case .signedBy(let keyType, let keys, let signedIdentity):
                guard ["GPGKeys", "signedByGPGKeys"].contains(keyType) else {
                    throw TrustPolicyError.refused(image: image, reason: "signedBy (\(scope)) with keyType \(keyType) is not supported; use GPGKeys")
                }
                let texts = try keyData(keys)
                let signed = try await readSignatures(image: image) { try await signatures.simpleSignatures(of: manifest.digest) }
                met.append(
                    try await BlockingWork.run { [self] _ in
                        let keyring = try GPGKeyring(keys: texts.map(\.data), origins: texts.map(\.origin))
                        return try acceptSimpleSigning(
                            signed, keyring: keyring, signedIdentity: signedIdentity, subject: subject, manifest: manifest.digest, image: image)
                    })
            case .sigstoreSigned(let trust, let signedIdentity):
                let keys = try sigstoreKeys(trust, scope: scope, image: image)
                if fetched == nil { fetched = try await readSignatures(image: image) { try await signatures.sigstoreSignatures(of: manifest.digest) } }
                met.append(
                    try acceptSigstore(
                        fetched ?? [], keys: keys, signedIdentity: signedIdentity, subject: subject, manifest: manifest.digest, image: image))
            }
        }
        return ImageVerification(policy: policySource, scope: scope, requirements: met, manifestDigest: manifest.digest.description)
    }

    /// What `read` returns; failing to read signatures refuses the image, naming why.
    func readSignatures<T>(image: String, _ read: () async throws -> T) async throws -> T {
        do {
            return try await read()
        } catch let error as CancellationError {
            throw error
        } catch {
            throw TrustPolicyError.refused(image: image, reason: "its signatures cannot be read: \(error)")
        }
    }

    /// Refuses `subject` at once when the requirements for it need signatures: for an image from
    /// a layout or archive, which carries none, before anything of it is read.
    public func refuseUnsignable(_ subject: PolicySubject, image: String) throws {
        let (scope, requirements) = policy.requirements(for: subject)
        for requirement in requirements {
            switch requirement {
            case .insecureAcceptAnything: continue
            case .reject: throw TrustPolicyError.refused(image: image, reason: "rejected by policy for \(scope)")
            default:
                throw TrustPolicyError.refused(image: image, reason: "unsigned: \(scope) requires a signature, and \(subject.transport): images carry none")
            }
        }
    }

    /// The public keys of a `sigstoreSigned` requirement; keyless trust and Rekor checks are
    /// refused as not supported, never skipped.
    func sigstoreKeys(_ trust: SigstoreTrust, scope: String, image: String) throws -> [(key: SigstorePublicKey, source: String)] {
        switch trust {
        case .keys(let source, let rekor):
            guard rekor == nil else {
                throw TrustPolicyError.refused(
                    image: image, reason: "sigstoreSigned (\(scope)) asks for Rekor log entries (rekorPublicKey…), which this mbctl does not check yet")
            }
            return try keyData(source).map { data, origin in
                guard let text = String(data: data, encoding: .utf8), let key = SigstorePublicKey(pem: text) else {
                    throw TrustPolicyError.invalidKey(source: origin, reason: "it holds no ECDSA, Ed25519 or RSA public key in PEM")
                }
                return (key, origin)
            }
        case .fulcio:
            throw TrustPolicyError.refused(
                image: image, reason: "sigstoreSigned (\(scope)) trusts keyless Fulcio certificates, which this mbctl does not verify yet")
        case .pki:
            throw TrustPolicyError.refused(image: image, reason: "sigstoreSigned (\(scope)) trusts a PKI, which this mbctl does not verify yet")
        }
    }

    /// The bytes of the keys `source` names, each with where it came from.
    func keyData(_ source: KeySource) throws -> [(data: Data, origin: String)] {
        switch source {
        case .paths(let paths):
            return try paths.map { path in
                let file = (root ?? "") + path
                guard let data = try RegularFileOpening.contents(of: file, limit: Self.keyFileLimit) else {
                    throw TrustPolicyError.invalidKey(source: file, reason: "there is no such file")
                }
                return (data, path)
            }
        case .data(let items):
            return items.enumerated().map { index, data in (data, "keyData \(index + 1) of \(policySource)") }
        }
    }

    /// How one signature of `signatures` meets a `sigstoreSigned` requirement, or the refusal
    /// that counts why none does.
    func acceptSigstore(
        _ signatures: [SigstoreSignature], keys: [(key: SigstorePublicKey, source: String)], signedIdentity: SignedIdentity,
        subject: PolicySubject, manifest: Digest, image: String
    ) throws -> String {
        try Self.firstAccepted(signatures, kind: "sigstore", image: image) { signature in
            Self.check(signature, keys: keys, signedIdentity: signedIdentity, subject: subject, manifest: manifest)
        }
    }

    /// How one simple-signing signature of `signatures` meets a `signedBy` requirement, or the
    /// refusal that counts why none does.
    func acceptSimpleSigning(
        _ signatures: [Data], keyring: GPGKeyring, signedIdentity: SignedIdentity, subject: PolicySubject, manifest: Digest, image: String
    ) throws -> String {
        try Self.firstAccepted(signatures, kind: "simple-signing (GPG)", image: image) { signature in
            keyring.verify(signature).flatMap { contents, fingerprint in
                Self.checkPayload(contents, type: SignaturePayload.simpleSigningType, signedIdentity: signedIdentity, subject: subject, manifest: manifest)
                    .map { "signedBy GPG key \(fingerprint) as \($0)" }
            }
        }
    }

    /// What `check` says of the first signature it accepts; a refusal of `image` counting why
    /// not, when it accepts none ("unsigned" when there is none of `kind`).
    static func firstAccepted<Signature>(
        _ signatures: [Signature], kind: String, image: String, _ check: (Signature) -> Result<String, SignatureFault>
    ) throws -> String {
        guard !signatures.isEmpty else { throw TrustPolicyError.refused(image: image, reason: "unsigned: it has no \(kind) signature") }
        var faults: [SignatureFault] = []
        for signature in signatures {
            switch check(signature) {
            case .success(let accepted): return accepted
            case .failure(let fault): faults.append(fault)
            }
        }
        throw TrustPolicyError.refused(image: image, reason: summary(of: faults))
    }

    /// The name a verified payload vouches for, when it is one for `manifest` that
    /// `signedIdentity` accepts for `subject`.
    static func checkPayload(_ data: Data, type: String, signedIdentity: SignedIdentity, subject: PolicySubject, manifest: Digest) -> Result<
        String, SignatureFault
    > {
        let payload: SignaturePayload
        do {
            payload = try SignaturePayload(parsing: data, type: type)
        } catch {
            return .failure(error)
        }
        guard payload.manifestDigest == manifest else { return .failure(.otherImage(signed: payload.manifestDigest.description)) }
        guard signedIdentity.accepts(signed: payload.dockerReference, for: subject.reference) else {
            return .failure(.identityMismatch(signed: payload.dockerReference))
        }
        return .success(payload.dockerReference)
    }

    static func check(
        _ signature: SigstoreSignature, keys: [(key: SigstorePublicKey, source: String)], signedIdentity: SignedIdentity, subject: PolicySubject,
        manifest: Digest
    ) -> Result<String, SignatureFault> {
        guard let base64 = signature.annotations[SigstoreSignature.signatureAnnotation] else {
            return .failure(.malformed("no \(SigstoreSignature.signatureAnnotation) annotation"))
        }
        guard let raw = Data(base64Encoded: base64), !raw.isEmpty else { return .failure(.malformed("the signature is not base64")) }
        guard let signer = keys.first(where: { $0.key.isValidSignature(raw, of: signature.payload) }) else { return .failure(.otherKey) }
        return checkPayload(signature.payload, type: SignaturePayload.sigstoreType, signedIdentity: signedIdentity, subject: subject, manifest: manifest)
            .map { "sigstoreSigned by \(signer.key.kind) key \(signer.key.fingerprint) (\(signer.source)) as \($0)" }
    }

    /// "none of its 3 signatures matches the policy: 2 made by a key the policy does not trust,
    /// 1 for another image (sha256:…)"; a single fault as "its one signature is …".
    static func summary(of faults: [SignatureFault]) -> String {
        if faults.count == 1, let only = faults.first { return "its one signature is \(only)" }
        var counts: [(String, Int)] = []
        for fault in faults {
            let text = fault.description
            if let index = counts.firstIndex(where: { $0.0 == text }) { counts[index].1 += 1 } else { counts.append((text, 1)) }
        }
        return "none of its \(faults.count) signatures matches the policy: " + counts.map { "\($1) \($0)" }.joined(separator: ", ")
    }
}
