import Crypto
import Foundation
import _CryptoExtras
import SwiftASN1
import X509

/// The keyless trust of a `sigstoreSigned` requirement (`fulcio`): a signature is made by the
/// key of a short-lived certificate that chains to the policy's Fulcio CA, was valid when the
/// Rekor log saw the signature, and names the policy's OIDC issuer and subject email, as
/// containers/image checks it. The certificate and its chain arrive in the signature's
/// annotations: untrusted until the chain is built to a CA of the policy's.
struct FulcioTrust: Sendable {
    let roots: [Certificate]
    let oidcIssuer: String
    let subjectEmail: String

    /// Fulcio's OIDC issuer extensions: the first (the issuer as raw bytes) and its successor
    /// (a DER UTF8String).
    static let issuerV1: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 57264, 1, 1]
    static let issuerV2: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 57264, 1, 8]

    /// The most certificates read from a chain annotation.
    static let chainLimit = 10

    /// The CA certificates in `pem` (one or more PEM blocks); nil when it holds none.
    static func certificates(in pem: String) -> [Certificate]? {
        guard let documents = try? PEMDocument.parseMultiple(pemString: pem), !documents.isEmpty, documents.count <= chainLimit else { return nil }
        let certificates = documents.compactMap { try? Certificate(pemDocument: $0) }
        return certificates.count == documents.count ? certificates : nil
    }

    /// The leaf certificate in `certificatePEM`, whose DER the Rekor entry must name.
    static func leaf(in certificatePEM: String?) -> Result<(Certificate, der: Data), SignatureFault> {
        guard let certificatePEM else { return .failure(.uncertified("it has no \(SigstoreSignature.certificateAnnotation) annotation")) }
        guard let documents = try? PEMDocument.parseMultiple(pemString: certificatePEM), documents.count == 1, let document = documents.first,
            let leaf = try? Certificate(pemDocument: document)
        else {
            return .failure(.uncertified("its certificate annotation does not hold exactly one certificate"))
        }
        return .success((leaf, Data(document.derBytes)))
    }

    /// The public key `leaf` certifies, when `leaf` (with the intermediates of `chainPEM`)
    /// chains to a root at `time` and names the policy's issuer and email; otherwise why not.
    func publicKey(of leaf: Certificate, chainPEM: String?, at time: Date) async -> Result<SigstorePublicKey, SignatureFault> {
        var intermediates: [Certificate] = []
        if let chainPEM {
            guard let chain = Self.certificates(in: chainPEM) else { return .failure(.uncertified("its certificate chain annotation cannot be read")) }
            // The chain ends with the root, which only the policy may name.
            intermediates = Array(chain.dropLast())
        }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(validationTime: time)
            FulcioCertificatePolicy()
        }
        guard case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) else {
            return .failure(.uncertified("its certificate does not chain to the policy's Fulcio CA at the time the log saw it"))
        }
        switch issuer(of: leaf) {
        case .failure(let fault): return .failure(fault)
        case .success(let issuer) where issuer != oidcIssuer: return .failure(.uncertified("its certificate is issued for \(issuer), not \(oidcIssuer)"))
        case .success: break
        }
        let emails = (try? leaf.extensions.subjectAlternativeNames)?.compactMap { name -> String? in
            if case .rfc822Name(let email) = name { return email }
            return nil
        }
        guard emails?.contains(subjectEmail) == true else {
            return .failure(.uncertified("its certificate is not for \(subjectEmail) (it names \((emails ?? []).joined(separator: ", ")))"))
        }
        guard let key = SigstorePublicKey(certified: leaf.publicKey) else {
            return .failure(.uncertified("its certificate holds no ECDSA, Ed25519 or RSA key"))
        }
        return .success(key)
    }

    /// The OIDC issuer `leaf` names, from either extension (both, they must agree; each once).
    func issuer(of leaf: Certificate) -> Result<String, SignatureFault> {
        var v1: [String] = [], v2: [String] = []
        for item in leaf.extensions {
            if item.oid == Self.issuerV1 {
                v1.append(String(decoding: item.value, as: UTF8.self))
            } else if item.oid == Self.issuerV2 {
                guard let text = try? ASN1UTF8String(derEncoded: item.value) else {
                    return .failure(.uncertified("its OIDC issuer extension is not a UTF8String"))
                }
                v2.append(String(text))
            }
        }
        guard v1.count <= 1, v2.count <= 1 else { return .failure(.uncertified("its certificate names an OIDC issuer twice")) }
        switch (v1.first, v2.first) {
        case (let first?, let second?) where first != second: return .failure(.uncertified("its certificate names two OIDC issuers"))
        case (let issuer?, _), (nil, let issuer?): return .success(issuer)
        case (nil, nil): return .failure(.uncertified("its certificate names no OIDC issuer"))
        }
    }
}

extension SigstorePublicKey {
    /// The key a certificate holds; nil when it is none of the kinds sigstore signs with.
    init?(certified key: Certificate.PublicKey) {
        if let key = P256.Signing.PublicKey(key) {
            self = .p256(key)
        } else if let key = P384.Signing.PublicKey(key) {
            self = .p384(key)
        } else if let key = P521.Signing.PublicKey(key) {
            self = .p521(key)
        } else if let key = _RSA.Signing.PublicKey(key) {
            self = .rsa(key)
        } else if let key = Curve25519.Signing.PublicKey(key) {
            self = .ed25519(key)
        } else {
            return nil
        }
    }
}
