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

    /// The gpg gpgme runs: Debian's gnupg package puts it here.
    static let gpgPath = "/usr/bin/gpg"

    /// gpgme is initialized once, and finds gpgconf and gpg then (and keeps their paths). It
    /// looks them up only in `PATH`, which mbctl does not trust to name its tools (a `PATH`
    /// could lead it to another gpg): while it does, `PATH` is the system's directories only.
    private static let initialized: Bool = {
        let saved = getenv("PATH").map { String(cString: $0) }
        setenv("PATH", "/usr/bin:/bin", 1)
        defer {
            if let saved { setenv("PATH", saved, 1) } else { unsetenv("PATH") }
        }
        var engines: gpgme_engine_info_t?
        return gpgme_check_version(nil) != nil && gpgme_get_engine_info(&engines) == 0
    }()

    /// Imports every key in `keys` (binary or armored keyrings); a source that holds no key is
    /// an error naming `origins[i]`.
    init(keys: [Data], origins: [String]) throws {
        guard Self.initialized else { throw TrustPolicyError.invalidKey(source: "gpgme", reason: "the gpgme library cannot be initialized") }
        guard access(Self.gpgPath, X_OK) == 0 else {
            throw TrustPolicyError.invalidKey(source: origins.first ?? "gpg", reason: "checking GPG signatures needs \(Self.gpgPath) (Debian's gnupg package)")
        }
        var template = Array((NSTemporaryDirectory() + "mbctl-gnupg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FilesystemError(path: NSTemporaryDirectory(), operation: "make a GnuPG home in", errno: errno) }
        home = String(cString: made)
        var created: gpgme_ctx_t?
        do {
            try Self.check(gpgme_new(&created), "create a gpgme context")
        } catch {
            try? FileManager.default.removeItem(atPath: home)
            throw error
        }
        guard let context = created else {
            try? FileManager.default.removeItem(atPath: home)
            throw TrustPolicyError.invalidKey(source: "gpgme", reason: "no context")
        }
        self.context = context
        let home = self.home
        do {
            try Self.check(gpgme_set_protocol(context, GPGME_PROTOCOL_OpenPGP), "choose OpenPGP")
            try Self.check(gpgme_ctx_set_engine_info(context, GPGME_PROTOCOL_OpenPGP, Self.gpgPath, home), "use a GnuPG home of its own")
            var imported = Set<String>()
            for (data, origin) in zip(keys, origins) {
                let before = imported.count
                try Self.withData(data) { keyData in
                    try Self.check(gpgme_op_import(context, keyData), "import the keys of \(origin)")
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
            verified = try sink.withData { plain in
                try Self.withData(signature) { signed in gpgme_op_verify(context, signed, nil, plain) }
            }
        } catch {
            return .failure(.malformed("gpgme cannot read it"))
        }
        guard !sink.overflowed else { return .failure(.malformed("its signed contents are larger than \(Self.contentsLimit) bytes")) }
        guard gpgme_err_code(verified) == GPG_ERR_NO_ERROR else { return .failure(.malformed("it is no OpenPGP signature (\(Self.text(verified)))")) }
        guard let result = gpgme_op_verify_result(context)?.pointee, let first = result.signatures, first.pointee.next == nil else {
            return .failure(.malformed("it does not hold exactly one OpenPGP signature"))
        }
        let made = first.pointee
        if gpgme_err_code(made.status) == GPG_ERR_NO_PUBKEY { return .failure(.otherKey) }
        guard gpgme_err_code(made.status) == GPG_ERR_NO_ERROR, made.validity != GPGME_VALIDITY_NEVER, made.validity_reason == 0, made.wrong_key_usage == 0,
            let signer = made.fpr
        else {
            return .failure(.malformed("the OpenPGP signature is not valid (\(Self.text(made.status)))"))
        }
        // A subkey's signature names the subkey: the primary key is the one the policy lists.
        var key: gpgme_key_t?
        guard gpgme_get_key(context, signer, &key, 0) == 0, let key else { return .failure(.otherKey) }
        defer { gpgme_key_unref(key) }
        guard let primary = key.pointee.subkeys?.pointee.fpr, fingerprints.contains(String(cString: primary)) else { return .failure(.otherKey) }
        return .success((sink.data, String(cString: primary)))
    }

    private static func withData<T>(_ data: Data, _ body: (gpgme_data_t) throws -> T) throws -> T {
        try data.withUnsafeBytes { raw in
            var handle: gpgme_data_t?
            // Not copied: the bytes outlive the handle, released before this returns.
            try check(gpgme_data_new_from_mem(&handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, 0), "hold data")
            guard let handle else { throw TrustPolicyError.invalidKey(source: "gpgme", reason: "no data handle") }
            defer { gpgme_data_release(handle) }
            return try body(handle)
        }
    }

    private static func check(_ error: gpgme_error_t, _ what: String) throws {
        guard gpgme_err_code(error) != GPG_ERR_NO_ERROR else { return }
        throw TrustPolicyError.invalidKey(source: "gpgme", reason: "cannot \(what): \(text(error))")
    }

    private static func text(_ error: gpgme_error_t) -> String { String(cString: gpgme_strerror(error)) }
}

/// Where gpgme writes the signed contents: kept in memory up to `limit` bytes; a write past it
/// fails (with `EFBIG`, as gpgme's write callback must set `errno`), which stops gpg.
private final class BoundedSink {
    let limit: Int
    private(set) var data = Data()
    private(set) var overflowed = false

    init(limit: Int) { self.limit = limit }

    /// Runs `body` with a gpgme data object writing here, released before this returns.
    func withData<T>(_ body: (gpgme_data_t) throws -> T) throws -> T {
        var callbacks = gpgme_data_cbs()
        callbacks.write = { handle, buffer, size in
            guard let handle, let buffer else { return -1 }
            let sink = Unmanaged<BoundedSink>.fromOpaque(handle).takeUnretainedValue()
            guard sink.data.count + size <= sink.limit else {
                sink.overflowed = true
                errno = EFBIG
                return -1
            }
            sink.data.append(buffer.assumingMemoryBound(to: UInt8.self), count: size)
            return size
        }
        return try withUnsafeMutablePointer(to: &callbacks) { table in
            var handle: gpgme_data_t?
            let error = gpgme_data_new_from_cbs(&handle, table, Unmanaged.passUnretained(self).toOpaque())
            guard gpgme_err_code(error) == GPG_ERR_NO_ERROR, let handle else {
                throw TrustPolicyError.invalidKey(source: "gpgme", reason: "cannot hold the signed contents: \(String(cString: gpgme_strerror(error)))")
            }
            defer { gpgme_data_release(handle) }
            return try withExtendedLifetime(self) { try body(handle) }
        }
    }
}
