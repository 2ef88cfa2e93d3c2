import BlockingWork
import Crypto
import Foundation
import OCILayout
import _CryptoExtras

/// A private key to make sigstore signatures with, read from cosign's encrypted key file
/// (`cosign.key`, what `cosign generate-key-pair` and `skopeo generate-sigstore-key` write: a
/// PKCS #8 key sealed by ``EncryptedKeyEnvelope``): ECDSA on P-256, P-384 or P-521, Ed25519,
/// or RSA.
///
/// Signatures are made as cosign and containers/image make them, so that
/// ``SigstorePublicKey/isValidSignature(_:of:)`` and theirs accept them: ECDSA (DER) and RSA
/// (PKCS #1 v1.5) over the payload's SHA-256, Ed25519 over the payload itself.
public enum SigstorePrivateKey: Sendable {
    case p256(P256.Signing.PrivateKey)
    case p384(P384.Signing.PrivateKey)
    case p521(P521.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)
    case rsa(_RSA.Signing.PrivateKey)

    /// The PEM block types cosign writes, newest first.
    static let pemTypes = ["ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"]
    /// The largest key file read.
    public static let fileSizeLimit = 128 << 10

    /// The key in `file` (its bytes), opened with `passphrase`; `source` names it in errors.
    /// Blocks for scrypt's tenth of a second: call it off the concurrency pool.
    public init(file: Data, passphrase: Data, source: String) throws {
        func fail(_ reason: String) -> TrustPolicyError { .invalidSigningKey(source: source, reason: reason) }
        guard let text = String(data: file, encoding: .utf8), let (type, body) = Self.pemBlock(in: text) else {
            throw fail("it holds no PEM block")
        }
        guard Self.pemTypes.contains(type) else { throw fail("its PEM block is \"\(type)\", not an encrypted cosign private key") }
        let envelope = try EncryptedKeyEnvelope(json: body, fail: fail)
        guard let pkcs8 = try envelope.open(passphrase: passphrase) else { throw fail("the passphrase does not open it") }
        if let key = try? P256.Signing.PrivateKey(derRepresentation: pkcs8) {
            self = .p256(key)
        } else if let key = try? P384.Signing.PrivateKey(derRepresentation: pkcs8) {
            self = .p384(key)
        } else if let key = try? P521.Signing.PrivateKey(derRepresentation: pkcs8) {
            self = .p521(key)
        } else if let key = try? Curve25519.Signing.PrivateKey(derRepresentation: pkcs8) {
            self = .ed25519(key)
        } else if let key = try? _RSA.Signing.PrivateKey(derRepresentation: pkcs8) {
            self = .rsa(key)
        } else {
            throw fail("it opens, but holds no ECDSA, Ed25519 or RSA private key")
        }
    }

    /// The type and the decoded body of the first PEM block in `text`.
    static func pemBlock(in text: String) -> (type: String, body: Data)? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else { return nil }
        let type = String(lines[begin].dropFirst("-----BEGIN ".count).dropLast("-----".count))
        guard let end = lines[begin...].firstIndex(of: "-----END \(type)-----") else { return nil }
        // Header lines ("Key: value") may precede the base64; cosign writes none.
        let base64 = lines[(begin + 1)..<end].filter { !$0.contains(":") }.joined()
        guard let body = Data(base64Encoded: base64) else { return nil }
        return (type, body)
    }

    /// The public half: what a policy names to trust this key's signatures.
    public var publicKey: SigstorePublicKey {
        switch self {
        case .p256(let key): return .p256(key.publicKey)
        case .p384(let key): return .p384(key.publicKey)
        case .p521(let key): return .p521(key.publicKey)
        case .ed25519(let key): return .ed25519(key.publicKey)
        case .rsa(let key): return .rsa(key.publicKey)
        }
    }

    /// This key's signature of `payload` (raw bytes: DER for ECDSA).
    public func signature(of payload: Data) throws -> Data {
        let digest = SHA256.hash(data: payload)
        switch self {
        case .p256(let key): return try key.signature(for: digest).derRepresentation
        case .p384(let key): return try key.signature(for: digest).derRepresentation
        case .p521(let key): return try key.signature(for: digest).derRepresentation
        case .ed25519(let key): return try key.signature(for: payload)
        case .rsa(let key): return try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation
        }
    }
}

extension SigstorePrivateKey {
    /// The key in the file at `path`, opened with `passphrase` (scrypt runs on a thread of its
    /// own). Only a regular file is read.
    public static func load(path: String, passphrase: String) async throws -> SigstorePrivateKey {
        guard let file = try RegularFileOpening.contents(of: path, limit: fileSizeLimit) else {
            throw TrustPolicyError.invalidSigningKey(source: path, reason: "there is no such file")
        }
        return try await BlockingWork.run { try SigstorePrivateKey(file: file, passphrase: Data(passphrase.utf8), source: path) }
    }
}
