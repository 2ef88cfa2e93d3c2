import OCILayout
import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// Reads a layer blob as a stream of tar entries, verifying it as it goes.
///
/// A ``LayerDecompressor`` thread reads the blob, hashes it (layer digest), decompresses it and
/// hashes the tar (`diff_id`); this side parses the tar with libarchive and hands out entries.
/// ``finish()`` consumes whatever the tar reader left (end-of-archive padding) so that both
/// digests cover every byte.
final class LayerStream {
    let name: String
    private let decompressor: LayerDecompressor
    private var inner: OpaquePointer?
    /// The chunk libarchive is reading from; recycled when it asks for the next one.
    private var current: Chunk?
    fileprivate var failure: Error?
    private var finished = false

    init(bytes: any LayerBytes, compression: LayerCompression, name: String) throws {
        self.name = name
        let prefix = try Self.prefix(of: bytes, count: 6, layer: name)
        let (found, foundName) = LayerCompression.sniff(prefix)
        decompressor = LayerDecompressor(bytes: bytes, compression: compression, name: name)
        guard found == compression else {
            throw UnpackError.compressionMismatch(layer: name, expected: compression.rawValue, found: foundName)
        }
        decompressor.start()
        guard let inner = archive_read_new() else { throw UnpackError.unreadable(layer: name, reason: "libarchive could not start") }
        self.inner = inner
        guard archive_read_support_format_tar(inner) == ARCHIVE_OK else { throw readError(inner) }
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard archive_read_open(inner, context, nil, readTarStream, nil) == ARCHIVE_OK else { throw readError(inner) }
    }

    /// The first `count` bytes of the blob (fewer only if it is shorter), waiting for them if
    /// they are still to arrive.
    static func prefix(of bytes: any LayerBytes, count: Int, layer: String) throws -> [UInt8] {
        var prefix = [UInt8](repeating: 0, count: count)
        var filled = 0
        try prefix.withUnsafeMutableBytes { buffer in
            while filled < count {
                let got = try LayerDecompressor.reading(layer) {
                    try bytes.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), at: Int64(filled))
                }
                if got == 0 { break }
                filled += got
            }
        }
        return Array(prefix[0..<filled])
    }

    deinit {
        if let inner { archive_read_free(inner) }
        if !finished {
            decompressor.pipe.abandon()
        }
        decompressor.wait()
    }

    /// The next tar entry, or nil at the end of the archive.
    func nextEntry() throws -> OpaquePointer? {
        guard let inner else { return nil }
        var entry: OpaquePointer?
        let status = archive_read_next_header(inner, &entry)
        switch status {
        case ARCHIVE_OK, ARCHIVE_WARN: return entry
        case ARCHIVE_EOF: return nil
        default: throw readError(inner)
        }
    }

    /// Hands the current entry's data to `body` block by block, with each block's offset in the
    /// file (sparse files leave gaps).
    func readData(_ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        guard let inner else { return }
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let status = archive_read_data_block(inner, &block, &size, &offset)
            if status == ARCHIVE_EOF { return }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw readError(inner) }
            try body(UnsafeRawBufferPointer(start: block, count: size), Int64(offset))
        }
    }

    /// Reads what the tar reader left and returns the digests of the blob and of its tar stream.
    func finish() throws -> (digest: String, diffID: String) {
        if let current { decompressor.pipe.recycle(current) }
        current = nil
        while let chunk = try decompressor.pipe.take() {
            decompressor.pipe.recycle(chunk)
        }
        finished = true
        decompressor.wait()
        guard let digests = decompressor.digests else {
            throw UnpackError.unreadable(layer: name, reason: "the layer ended early")
        }
        return digests
    }

    /// The next chunk of the tar stream for libarchive (empty at the end).
    fileprivate func nextChunk() throws -> UnsafeRawBufferPointer {
        if let current { decompressor.pipe.recycle(current) }
        current = try decompressor.pipe.take()
        return current?.bytes ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    private func readError(_ archive: OpaquePointer) -> Error {
        if let failure { return failure }
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
        return UnpackError.unreadable(layer: name, reason: message)
    }
}

/// libarchive read callback of the tar reader: the decompressor's chunks.
private func readTarStream(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let stream = Unmanaged<LayerStream>.fromOpaque(context).takeUnretainedValue()
    do {
        let chunk = try stream.nextChunk()
        buffer.pointee = chunk.baseAddress
        return chunk.count
    } catch {
        stream.failure = error
        return -1
    }
}
