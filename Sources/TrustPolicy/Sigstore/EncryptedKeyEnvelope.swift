import CSodium
import Crypto
import Foundation
import _CryptoExtras

/// The sealed envelope cosign keeps a private key in (go-securesystemslib's `encrypted`
/// format, base64 inside the PEM block of an `ENCRYPTED SIGSTORE PRIVATE KEY`): JSON naming an
/// scrypt key derivation (`N`, `r`, `p`, a salt) and a NaCl secretbox (XSalsa20-Poly1305, a
/// 24-byte nonce) sealing the ciphertext.
///
/// The file is the operator's, but a key file is still read as untrusted text: only the scrypt
/// costs cosign and go-securesystemslib use are accepted (a file asking for gigabytes of memory
/// is refused before scrypt runs), and sizes are checked before any buffer is made.
struct EncryptedKeyEnvelope {
    var salt: Data
    var cost: ScryptCost
    var nonce: Data
    var ciphertext: Data

    /// scrypt's parameters.
    struct ScryptCost: Equatable {
        var n: Int
        var r: Int
        var p: Int

        /// What go-securesystemslib writes and reads: its legacy, standard and OWASP costs
        /// (16, 32 and 128 MiB of memory).
        static let accepted = [ScryptCost(n: 1 << 14, r: 8, p: 1), ScryptCost(n: 1 << 15, r: 8, p: 1), ScryptCost(n: 1 << 17, r: 8, p: 1)]
    }

    static let keyLength = 32
    static let nonceLength = 24
    /// The largest sealed key read: an RSA-8192 PKCS #8 key is under 5 KiB.
    static let ciphertextLimit = 64 << 10

    /// The envelope in `json`, or why it is none (`fail` makes the error).
    init(json: Data, fail: (String) -> Error) throws {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { throw fail("its sealed key is not a JSON object") }
        guard let kdf = object["kdf"] as? [String: Any], kdf["name"] as? String == "scrypt", let params = kdf["params"] as? [String: Any] else {
            throw fail("its sealed key does not name an scrypt key derivation")
        }
        guard let cipher = object["cipher"] as? [String: Any], cipher["name"] as? String == "nacl/secretbox" else {
            throw fail("its sealed key does not name a nacl/secretbox cipher")
        }
        func bytes(_ value: Any?, _ what: String) throws -> Data {
            guard let text = value as? String, let data = Data(base64Encoded: text) else { throw fail("its \(what) is not base64") }
            return data
        }
        salt = try bytes(kdf["salt"], "salt")
        nonce = try bytes(cipher["nonce"], "nonce")
        ciphertext = try bytes(object["ciphertext"], "ciphertext")
        guard let n = params["N"] as? Int, let r = params["r"] as? Int, let p = params["p"] as? Int else {
            throw fail("its scrypt parameters N, r and p are not numbers")
        }
        cost = ScryptCost(n: n, r: r, p: p)
        guard ScryptCost.accepted.contains(cost) else {
            throw fail("its scrypt parameters (N \(n), r \(r), p \(p)) are not ones cosign uses")
        }
        guard nonce.count == Self.nonceLength else { throw fail("its nonce is not \(Self.nonceLength) bytes") }
        guard (1...Self.ciphertextLimit).contains(ciphertext.count), ciphertext.count > Int(crypto_secretbox_macbytes()) else {
            throw fail("its ciphertext is \(ciphertext.count) bytes, no sealed key")
        }
    }

    /// The sealed bytes, opened with the key scrypt derives from `passphrase`; nil when the
    /// passphrase (or anything in the envelope) is wrong. scrypt takes a tenth of a second and
    /// tens of MiB by design: call this off the concurrency pool.
    func open(passphrase: Data) throws -> Data? {
        guard sodium_init() >= 0 else { throw TrustPolicyError.invalidSigningKey(source: "libsodium", reason: "it cannot be initialized") }
        let key = try KDF.Scrypt.deriveKey(
            from: passphrase, salt: salt, outputByteCount: Self.keyLength, rounds: cost.n, blockSize: cost.r, parallelism: cost.p)
        var plain = [UInt8](repeating: 0, count: ciphertext.count - Int(crypto_secretbox_macbytes()))
        let sealed = [UInt8](ciphertext), nonceBytes = [UInt8](nonce)
        let keyBytes = key.withUnsafeBytes { [UInt8]($0) }
        let opened = crypto_secretbox_open_easy(&plain, sealed, UInt64(sealed.count), nonceBytes, keyBytes)
        defer { sodium_memzero(&plain, plain.count) }
        return opened == 0 ? Data(plain) : nil
    }
}
