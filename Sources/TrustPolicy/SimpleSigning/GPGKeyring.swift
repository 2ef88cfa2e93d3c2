import CGPGME
import Foundation
import SystemErrors

/// The OpenPGP keys of a `signedBy` requirement, in a GnuPG home of their own: gpg (through
/// gpgme, as containers/image uses it) verifies signatures against these keys only, never the
/// user's keyring. The home is a fresh directory, removed with the keyring.
///
/// gpgme runs gpg and waits for it: every call here blocks, and belongs on a thread of its own
/// (``ImageVerifier`` runs it through BlockingWork).
final class GPGKeyring {
    private let context: gpgme_ctx_t
    private let home: String
    /// Fingerprints of the primary keys imported.
    let fingerprints: Set<String>

    /// Imports every key in `keys` (binary or armored keyrings); a source that holds no key is
    /// an error naming `origins[i]`.
    init(keys: [Data], origins: [String]) throws {
        var template = Array((NSTemporaryDirectory() + "mbctl-gnupg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FilesystemError(path: NSTemporaryDirectory(), operation: "make a GnuPG home in", errno: errno) }
        home = String(cString: made)
        let context: gpgme_ctx_t
        do {
            context = try GPGME.context(home: home, fail: Self.fail)
        } catch {
            try? FileManager.default.removeItem(atPath: home)
            throw error
        }
        self.context = context
        let home = self.home
        do {
            var imported = Set<String>()
            for (data, origin) in zip(keys, origins) {
                let before = imported.count
                try GPGME.withData(data, fail: Self.fail) { keyData in
                    try GPGME.check(gpgme_op_import(context, keyData), "import the keys of \(origin)", fail: Self.fail)
                }
                var entry = gpgme_op_import_result(context)?.pointee.imports
                while let item = entry {
                    if item.pointee.result == 0, let fingerprint = item.pointee.fpr { imported.insert(String(cString: fingerprint)) }
                    entry = item.pointee.next
                }
                guard imported.count > before else { throw TrustPolicyError.invalidKey(source: origin, reason: "it holds no OpenPGP public key") }
            }
            fingerprints = imported
        } catch {
            gpgme_release(context)
            try? FileManager.default.removeItem(atPath: home)
            throw error
        }
    }

    deinit {
        gpgme_release(context)
        try? FileManager.default.removeItem(atPath: home)
    }

    /// The most signed contents gpg may hand back: a simple-signing payload is a few hundred
    /// bytes, and an OpenPGP message may be compressed, so a small signature could otherwise
    /// unpack into gigabytes.
    static let contentsLimit = 1 << 20

    /// The signed contents of `signature` (an OpenPGP signed message) and the fingerprint of the
    /// primary key that made it, when one of this keyring's keys made it validly; otherwise why not.
    func verify(_ signature: Data) -> Result<(contents: Data, fingerprint: String), SignatureFault> {
        let sink = BoundedSink(limit: Self.contentsLimit)
        let verified: gpgme_error_t
        do {
            verified = try sink.withData(fail: Self.fail) { plain in
                try GPGME.withData(signature, fail: Self.fail) { signed in gpgme_op_verify(context, signed, nil, plain) }
            }
        } catch {
            return .failure(.malformed("gpgme cannot read it"))
        }
        guard !sink.overflowed else { return .failure(.malformed("its signed contents are larger than \(Self.contentsLimit) bytes")) }
        guard gpgme_err_code(verified) == GPG_ERR_NO_ERROR else { return .failure(.malformed("it is no OpenPGP signature (\(GPGME.text(verified)))")) }
        guard let result = gpgme_op_verify_result(context)?.pointee, let first = result.signatures, first.pointee.next == nil else {
            return .failure(.malformed("it does not hold exactly one OpenPGP signature"))
        }
        let made = first.pointee
        if gpgme_err_code(made.status) == GPG_ERR_NO_PUBKEY { return .failure(.otherKey) }
        guard gpgme_err_code(made.status) == GPG_ERR_NO_ERROR, made.validity != GPGME_VALIDITY_NEVER, made.validity_reason == 0, made.wrong_key_usage == 0,
            let signer = made.fpr
        else {
            return .failure(.malformed("the OpenPGP signature is not valid (\(GPGME.text(made.status)))"))
        }
        // A subkey's signature names the subkey: the primary key is the one the policy lists.
        var key: gpgme_key_t?
        guard gpgme_get_key(context, signer, &key, 0) == 0, let key else { return .failure(.otherKey) }
        defer { gpgme_key_unref(key) }
        guard let primary = key.pointee.subkeys?.pointee.fpr, fingerprints.contains(String(cString: primary)) else { return .failure(.otherKey) }
        return .success((sink.data, String(cString: primary)))
    }

    private static func fail(_ reason: String) -> Error { TrustPolicyError.invalidKey(source: "gpgme", reason: reason) }
}
