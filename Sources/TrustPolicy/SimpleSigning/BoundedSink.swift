import CGPGME
import Foundation

/// Where gpgme writes what gpg makes (signed contents, a signature): kept in memory up to `limit` bytes; a write past it
/// fails (with `EFBIG`, as gpgme's write callback must set `errno`), which stops gpg.
final class BoundedSink {
    let limit: Int
    private(set) var data = Data()
    private(set) var overflowed = false

    init(limit: Int) { self.limit = limit }

    /// Runs `body` with a gpgme data object writing here, released before this returns; `fail`
    /// makes the errors.
    func withData<T>(fail: (String) -> Error, _ body: (gpgme_data_t) throws -> T) throws -> T {
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
            guard gpgme_err_code(error) == GPG_ERR_NO_ERROR, let handle else { throw fail("cannot hold gpg's output: \(GPGME.text(error))") }
            defer { gpgme_data_release(handle) }
            return try withExtendedLifetime(self) { try body(handle) }
        }
    }
}
