import CGPGME
import Foundation

/// Makes simple-signing signatures (an OpenPGP signed message holding the payload, binary, as
/// containers/image and skopeo's `--sign-by` make them) with a secret key of the user's GnuPG
/// keyring (`$GNUPGHOME`, else `~/.gnupg`), as skopeo signs.
///
/// A passphrase, when given, is handed to gpg through gpgme's loopback pinentry; without one,
/// gpg asks its agent (an unprotected key, or one the agent holds unlocked). Every call blocks on
/// gpg: call it off the concurrency pool.
final class GPGSigner {
    private let context: gpgme_ctx_t
    private let key: gpgme_key_t
    private let identity: String
    /// Kept alive while gpgme may call back for it.
    private let passphrase: PassphraseHook?

    /// The most a signature may be: a signed payload of a few hundred bytes.
    static let signatureLimit = 1 << 20

    /// Signs with the secret key `identity` names (a fingerprint, key ID or user ID gpg knows).
    init(identity: String, passphrase: String?) throws {
        let fail = { (reason: String) -> Error in TrustPolicyError.invalidSigningKey(source: "GPG key \(identity)", reason: reason) }
        self.identity = identity
        context = try GPGME.context(home: nil, fail: fail)
        var found: gpgme_key_t?
        do {
            try GPGME.check(gpgme_get_key(context, identity, &found, 1), "find its secret key", fail: fail)
            guard let found else { throw fail("gpg has no secret key of that name") }
            key = found
        } catch {
            gpgme_release(context)
            throw error
        }
        gpgme_set_armor(context, 0)
        self.passphrase = passphrase.map(PassphraseHook.init)
        do {
            try GPGME.check(gpgme_signers_add(context, key), "sign with it", fail: fail)
            if let hook = self.passphrase {
                try GPGME.check(gpgme_set_pinentry_mode(context, GPGME_PINENTRY_MODE_LOOPBACK), "hand gpg the passphrase", fail: fail)
                gpgme_set_passphrase_cb(context, PassphraseHook.callback, Unmanaged.passUnretained(hook).toOpaque())
            }
        } catch {
            gpgme_key_unref(key)
            gpgme_release(context)
            throw error
        }
    }

    deinit {
        gpgme_key_unref(key)
        gpgme_release(context)
    }

    /// The key's signature of `payload`.
    func sign(_ payload: Data) throws -> Data {
        let fail = { (reason: String) -> Error in TrustPolicyError.invalidSigningKey(source: "GPG key \(self.identity)", reason: reason) }
        let sink = BoundedSink(limit: Self.signatureLimit)
        let signed = try withExtendedLifetime(passphrase) {
            try sink.withData(fail: fail) { signature in
                try GPGME.withData(payload, fail: fail) { plain in gpgme_op_sign(context, plain, signature, GPGME_SIG_MODE_NORMAL) }
            }
        }
        if gpgme_err_code(signed) == GPG_ERR_BAD_PASSPHRASE || gpgme_err_code(signed) == GPG_ERR_CANCELED {
            throw fail("the passphrase does not unlock it")
        }
        try GPGME.check(signed, "sign", fail: fail)
        guard let result = gpgme_op_sign_result(context)?.pointee, result.invalid_signers == nil, result.signatures != nil, !sink.data.isEmpty else {
            throw fail("gpg made no signature with it")
        }
        return sink.data
    }
}

/// A passphrase gpgme asks for through its callback: given once; asked again (the first was
/// wrong), the callback cancels instead of looping.
private final class PassphraseHook {
    let line: [UInt8]

    init(_ passphrase: String) { line = Array(passphrase.utf8) + [UInt8(ascii: "\n")] }

    static let callback: gpgme_passphrase_cb_t = { hook, _, _, previousWasBad, fd in
        guard let hook, previousWasBad == 0 else { return gpgme_error(GPG_ERR_CANCELED) }
        let passphrase = Unmanaged<PassphraseHook>.fromOpaque(hook).takeUnretainedValue()
        let written = passphrase.line.withUnsafeBytes { gpgme_io_writen(fd, $0.baseAddress, $0.count) }
        return written == 0 ? 0 : gpgme_error_from_errno(errno)
    }
}
