import Crypto
import Foundation
import _CryptoExtras

/// A public key a `sigstoreSigned` requirement trusts, read from PEM as cosign writes it
/// (`cosign.pub`: a SubjectPublicKeyInfo, "PUBLIC KEY"): ECDSA on P-256, P-384 or P-521,
/// Ed25519, or RSA.
///
/// Attachment signatures are checked as containers/image checks them: the payload hashed with
/// SHA-256 for ECDSA (whatever the curve) and RSA (PKCS #1 v1.5), the payload itself for Ed25519.
/// Sigstore bundles are signed as sigstore-go signs them: with the hash that goes with the curve
/// (SHA-384 on P-384, SHA-512 on P-521).
public enum SigstorePublicKey: Sendable {
    case p256(P256.Signing.PublicKey)
    case p384(P384.Signing.PublicKey)
    case p521(P521.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)
    case rsa(_RSA.Signing.PublicKey)

    /// The one key in `pem`; nil when it holds none of the kinds above.
    public init?(pem: String) {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            self = .p256(key)
        } else if let key = try? P384.Signing.PublicKey(pemRepresentation: pem) {
            self = .p384(key)
        } else if let key = try? P521.Signing.PublicKey(pemRepresentation: pem) {
            self = .p521(key)
        } else if let key = try? _RSA.Signing.PublicKey(pemRepresentation: pem) {
            self = .rsa(key)
        } else if let key = try? Curve25519.Signing.PublicKey(pemRepresentation: pem) {
            self = .ed25519(key)
        } else {
            return nil
        }
    }

    /// Whether this is an ECDSA key: the only kind a Rekor log signs with.
    public var isECDSA: Bool {
        switch self {
        case .p256, .p384, .p521: return true
        case .ed25519, .rsa: return false
        }
    }

    /// The key's SubjectPublicKeyInfo (DER): what a PEM "PUBLIC KEY" block holds.
    public var derRepresentation: Data {
        switch self {
        case .p256(let key): return key.derRepresentation
        case .p384(let key): return key.derRepresentation
        case .p521(let key): return key.derRepresentation
        case .ed25519(let key): return key.derRepresentation
        case .rsa(let key): return key.derRepresentation
        }
    }

    /// What kind of key this is, for messages and records.
    public var kind: String {
        switch self {
        case .p256: return "ECDSA P-256"
        case .p384: return "ECDSA P-384"
        case .p521: return "ECDSA P-521"
        case .ed25519: return "Ed25519"
        case .rsa(let key): return "RSA-\(key.keySizeInBits)"
        }
    }

    /// The SHA-256 of the key's SubjectPublicKeyInfo, as `sha256:HEX`: what records and
    /// messages name a key by.
    public var fingerprint: String {
        "sha256:" + SHA256.hash(data: derRepresentation).map { String(format: "%02x", $0) }.joined()
    }

    /// How a signature's message is hashed before an ECDSA key signs it.
    public enum Hashing: Sendable {
        /// SHA-256 whatever the key: cosign's attachment signatures.
        case sha256
        /// The hash of the key's size (SHA-384 on P-384, SHA-512 on P-521; SHA-256 otherwise):
        /// Sigstore bundles.
        case matchingCurve
    }

    /// Whether `signature` (raw bytes: DER for ECDSA) is this key's signature of `payload`.
    public func isValidSignature(_ signature: Data, of payload: Data, hashing: Hashing = .sha256) -> Bool {
        let digest = SHA256.hash(data: payload)
        switch self {
        case .p256(let key):
            guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: digest)
        case .p384(let key):
            guard let parsed = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return hashing == .sha256 ? key.isValidSignature(parsed, for: digest) : key.isValidSignature(parsed, for: SHA384.hash(data: payload))
        case .p521(let key):
            guard let parsed = try? P521.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return hashing == .sha256 ? key.isValidSignature(parsed, for: digest) : key.isValidSignature(parsed, for: SHA512.hash(data: payload))
        case .ed25519(let key):
            return key.isValidSignature(signature, for: payload)
        case .rsa(let key):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: .insecurePKCS1v1_5)
        }
    }
}
