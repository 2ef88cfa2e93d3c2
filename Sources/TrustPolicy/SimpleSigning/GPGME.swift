import CGPGME
import Foundation

/// What the GPG keyring and signer share of gpgme (GnuPG Made Easy, which containers/image uses
/// too): its one-time initialization, contexts bound to Debian's gpg, and result checks.
///
/// gpgme runs gpg and waits for it: every call blocks, and belongs on a thread of its own.
enum GPGME {
    /// The gpg gpgme runs: Debian's gnupg package puts it here.
    static let gpgPath = "/usr/bin/gpg"

    /// gpgme is initialized once, and finds gpgconf and gpg then (and keeps their paths). It
    /// looks them up only in `PATH`, which mbctl does not trust to name its tools (a `PATH`
    /// could lead it to another gpg): while it does, `PATH` is the system's directories only.
    static let initialized: Bool = {
        let saved = getenv("PATH").map { String(cString: $0) }
        setenv("PATH", "/usr/bin:/bin", 1)
        defer {
            if let saved { setenv("PATH", saved, 1) } else { unsetenv("PATH") }
        }
        var engines: gpgme_engine_info_t?
        return gpgme_check_version(nil) != nil && gpgme_get_engine_info(&engines) == 0
    }()

    /// A new OpenPGP context running ``gpgPath`` on the GnuPG home `home` (nil: gpg's own
    /// choice, `$GNUPGHOME` or `~/.gnupg`). `fail` makes the errors.
    static func context(home: String?, fail: (String) -> Error) throws -> gpgme_ctx_t {
        guard initialized else { throw fail("the gpgme library cannot be initialized") }
        guard access(gpgPath, X_OK) == 0 else { throw fail("OpenPGP signatures need \(gpgPath) (Debian's gnupg package)") }
        var created: gpgme_ctx_t?
        try check(gpgme_new(&created), "create a gpgme context", fail: fail)
        guard let context = created else { throw fail("gpgme made no context") }
        do {
            try check(gpgme_set_protocol(context, GPGME_PROTOCOL_OpenPGP), "choose OpenPGP", fail: fail)
            try check(gpgme_ctx_set_engine_info(context, GPGME_PROTOCOL_OpenPGP, gpgPath, home), "choose \(gpgPath)", fail: fail)
        } catch {
            gpgme_release(context)
            throw error
        }
        return context
    }

    /// Runs `body` with a gpgme data object reading `data` (not copied: it is released before
    /// this returns).
    static func withData<T>(_ data: Data, fail: (String) -> Error, _ body: (gpgme_data_t) throws -> T) throws -> T {
        try data.withUnsafeBytes { raw in
            var handle: gpgme_data_t?
            try check(gpgme_data_new_from_mem(&handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, 0), "hold data", fail: fail)
            guard let handle else { throw fail("gpgme made no data handle") }
            defer { gpgme_data_release(handle) }
            return try body(handle)
        }
    }

    static func check(_ error: gpgme_error_t, _ what: String, fail: (String) -> Error) throws {
        guard gpgme_err_code(error) != GPG_ERR_NO_ERROR else { return }
        throw fail("cannot \(what): \(text(error))")
    }

    static func text(_ error: gpgme_error_t) -> String { String(cString: gpgme_strerror(error)) }
}
