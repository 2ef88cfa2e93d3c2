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
        var fetched: [SigstoreCandidate]?
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
                let checked = try await BlockingWork.run { _ in
                    let keyring = try GPGKeyring(keys: texts.map(\.data), origins: texts.map(\.origin))
                    return signed.map { signature in
                        keyring.verify(signature).flatMap { contents, fingerprint in
                            Self.checkPayload(
                                contents, type: SignaturePayload.simpleSigningType, signedIdentity: signedIdentity, subject: subject, manifest: manifest.digest
                            ).map { "signedBy GPG key \(fingerprint) as \($0)" }
                        }
                    }
                }
                met.append(try await Self.firstAccepted(checked, kind: "simple-signing (GPG)", image: image) { $0 })
            case .sigstoreSigned(let trust, let signedIdentity):
                let root = try sigstoreTrustRoot(trust, scope: scope, image: image)
                if fetched == nil {
                    // Both formats at once: one round trip of waiting, not two.
                    fetched = try await readSignatures(image: image) {
                        async let attached = signatures.sigstoreSignatures(of: manifest.digest)
                        async let bundles = signatures.sigstoreBundles(of: manifest.digest)
                        return try await attached.map(SigstoreCandidate.attached) + bundles.map { SigstoreCandidate.bundle($0.bundle.bytes) }
                    }
                }
                met.append(
                    try await Self.firstAccepted(fetched ?? [], kind: "sigstore", image: image) { candidate in
                        switch candidate {
                        case .attached(let signature):
                            await Self.check(signature, root: root, signedIdentity: signedIdentity, subject: subject, manifest: manifest.digest)
                        case .bundle(let data):
                            Self.checkBundle(data, root: root, signedIdentity: signedIdentity, subject: subject, manifest: manifest.digest)
                        }
                    })
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

    /// What a `sigstoreSigned` requirement trusts, its keys (and Rekor keys, and Fulcio CA
    /// certificates) read; a PKI is refused as not supported, never skipped.
    func sigstoreTrustRoot(_ trust: SigstoreTrust, scope: String, image: String) throws -> SigstoreTrustRoot {
        func publicKeys(_ source: KeySource, ecdsaOnly: Bool = false) throws -> [(key: SigstorePublicKey, source: String)] {
            try keyData(source).map { data, origin in
                guard let text = String(data: data, encoding: .utf8), let key = SigstorePublicKey(pem: text), !ecdsaOnly || key.isECDSA else {
                    throw TrustPolicyError.invalidKey(source: origin, reason: "it holds no \(ecdsaOnly ? "ECDSA" : "ECDSA, Ed25519 or RSA") public key in PEM")
                }
                return (key, origin)
            }
        }
        switch trust {
        case .keys(let source, let rekor):
            return .keys(try publicKeys(source), rekor: try rekor.map { try publicKeys($0, ecdsaOnly: true).map(\.key) })
        case .fulcio(let caSource, let issuer, let email, let rekor):
            guard let rekor else { throw TrustPolicyError.refused(image: image, reason: "sigstoreSigned (\(scope)) trusts Fulcio without a Rekor key") }
            let roots = try keyData(caSource).flatMap { data, origin in
                guard let text = String(data: data, encoding: .utf8), let certificates = FulcioTrust.certificates(in: text) else {
                    throw TrustPolicyError.invalidKey(source: origin, reason: "it holds no PEM certificate")
                }
                return certificates
            }
            return .fulcio(FulcioTrust(roots: roots, oidcIssuer: issuer, subjectEmail: email), rekor: try publicKeys(rekor, ecdsaOnly: true).map(\.key))
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

    /// What `check` says of the first signature it accepts; a refusal of `image` counting why
    /// not, when it accepts none ("unsigned" when there is none of `kind`).
    static func firstAccepted<Signature>(
        _ signatures: [Signature], kind: String, image: String, _ check: (Signature) async -> Result<String, SignatureFault>
    ) async throws -> String {
        guard !signatures.isEmpty else { throw TrustPolicyError.refused(image: image, reason: "unsigned: it has no \(kind) signature") }
        var faults: [SignatureFault] = []
        for signature in signatures {
            switch await check(signature) {
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

    /// How `signature` meets a `sigstoreSigned` requirement trusting `root`, or why not.
    static func check(
        _ signature: SigstoreSignature, root: SigstoreTrustRoot, signedIdentity: SignedIdentity, subject: PolicySubject, manifest: Digest
    ) async -> Result<String, SignatureFault> {
        guard let base64 = signature.annotations[SigstoreSignature.signatureAnnotation] else {
            return .failure(.malformed("no \(SigstoreSignature.signatureAnnotation) annotation"))
        }
        guard let raw = Data(base64Encoded: base64), !raw.isEmpty else { return .failure(.malformed("the signature is not base64")) }
        switch await root.signer(of: signature, raw: raw, base64: base64) {
        case .failure(let fault): return .failure(fault)
        case .success(let signer):
            return checkPayload(
                signature.payload, type: SignaturePayload.sigstoreType, signedIdentity: signedIdentity, subject: subject, manifest: manifest
            ).map { "sigstoreSigned by \(signer) as \($0)" }
        }
    }

    /// How the Sigstore bundle `data` meets a `sigstoreSigned` requirement trusting `root`, or
    /// why not. cosign 3's statement names only the manifest digest, no image: such a bundle
    /// vouches for the image under the name it was pulled by, which the identity rule then
    /// judges (so `exactReference` and `exactRepository` still pin the name); a subject that
    /// does carry a name is judged by that name.
    static func checkBundle(_ data: Data, root: SigstoreTrustRoot, signedIdentity: SignedIdentity, subject: PolicySubject, manifest: Digest) -> Result<
        String, SignatureFault
    > {
        let bundle: SigstoreBundle
        let statement: InTotoStatement
        let signer: String
        do {
            bundle = try SigstoreBundle(parsing: data)
            signer = try root.bundleSigner(of: bundle).get()
            statement = try InTotoStatement(parsing: bundle.payload)
        } catch {
            return .failure(error)
        }
        guard statement.predicateType == InTotoStatement.signaturePredicateType else {
            return .failure(.notAnImageSignature("an attestation of \(statement.predicateType)"))
        }
        guard let signed = statement.subjects.first(where: { $0.digest == manifest }) else {
            return .failure(.otherImage(signed: statement.subjects[0].digest.description))
        }
        if let name = signed.name {
            guard signedIdentity.accepts(signed: name, for: subject.reference) else { return .failure(.identityMismatch(signed: name)) }
            return .success("sigstoreSigned by \(signer) as \(name)")
        }
        guard let pulled = subject.reference?.description, signedIdentity.accepts(signed: pulled, for: subject.reference) else {
            return .failure(.identityMismatch(signed: "(none: the bundle names no image)"))
        }
        return .success("sigstoreSigned by \(signer) for this manifest, naming no image (taken as \(pulled))")
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
