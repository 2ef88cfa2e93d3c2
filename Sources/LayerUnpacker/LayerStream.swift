import CArchive
import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// Reads a layer blob as a stream of tar entries, hashing as it goes.
///
/// Two libarchive readers are chained: an outer one in `raw` format undoes the compression, and
/// its output feeds the inner `tar` reader. Hashing the bytes between the two gives the
/// uncompressed digest (the config's `diff_id`) and hashing what is read from the file gives the
/// blob digest, both in the one pass that also unpacks; ``finish()`` reads whatever the tar reader
/// left (end-of-archive padding) so that both digests cover every byte.
final class LayerStream {
    let name: String
    private let fd: Int32
    private let compression: LayerCompression
    private var outer: OpaquePointer?
    private(set) var inner: OpaquePointer?
    private var compressedHash = SHA256()
    private var uncompressedHash = SHA256()
    private var fileBuffer: UnsafeMutableRawBufferPointer
    fileprivate var failure: Error?

    init(path: String, compression: LayerCompression, name: String) throws {
        self.name = name
        self.compression = compression
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UnpackError.unreadable(layer: name, reason: "cannot open \(path): \(String(cString: strerror(errno)))") }
        fileBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

        var prefix = [UInt8](repeating: 0, count: 6)
        let got = pread(fd, &prefix, 6, 0)
        let (found, foundName) = LayerCompression.sniff(Array(prefix.prefix(max(0, got))))
        if found != compression {
            // Every property is set by now, so deinit closes the file and frees the buffer.
            throw UnpackError.compressionMismatch(layer: name, expected: compression.rawValue, found: foundName)
        }
        try openReaders()
    }

    deinit {
        if let inner { archive_read_free(inner) }
        if let outer { archive_read_free(outer) }
        fileBuffer.deallocate()
        close(fd)
    }

    private func openReaders() throws {
        let context = Unmanaged.passUnretained(self).toOpaque()
        if compression != .none {
            guard let outer = archive_read_new() else { throw UnpackError.unreadable(layer: name, reason: "libarchive could not start") }
            self.outer = outer
            switch compression {
            case .gzip: archive_read_support_filter_gzip(outer)
            case .zstd: archive_read_support_filter_zstd(outer)
            case .none: break
            }
            archive_read_support_format_raw(outer)
            guard archive_read_open(outer, context, nil, readCompressedFile, nil) == ARCHIVE_OK else { throw readError(outer) }
            var entry: OpaquePointer?
            guard archive_read_next_header(outer, &entry) == ARCHIVE_OK else { throw readError(outer) }
        }
        guard let inner = archive_read_new() else { throw UnpackError.unreadable(layer: name, reason: "libarchive could not start") }
        self.inner = inner
        archive_read_support_format_tar(inner)
        let opened = compression == .none
            ? archive_read_open(inner, context, nil, readCompressedFile, nil)
            : archive_read_open(inner, context, nil, readDecompressed, nil)
        guard opened == ARCHIVE_OK else { throw readError(inner) }
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
        if let outer {
            while true {
                var block: UnsafeRawPointer?
                var size = 0
                var offset: la_int64_t = 0
                let status = archive_read_data_block(outer, &block, &size, &offset)
                if status == ARCHIVE_EOF { break }
                guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw readError(outer) }
                uncompressedHash.update(bufferPointer: UnsafeRawBufferPointer(start: block, count: size))
            }
        }
        while try readFile() > 0 {}
        let digest = Self.hex(compressedHash.finalize())
        let diffID = compression == .none ? digest : Self.hex(uncompressedHash.finalize())
        return ("sha256:" + digest, "sha256:" + diffID)
    }

    /// Reads the next chunk of the blob file into `fileBuffer`, hashing it.
    fileprivate func readFile() throws -> Int {
        while true {
            let got = read(fd, fileBuffer.baseAddress, fileBuffer.count)
            if got < 0 {
                if errno == EINTR { continue }
                throw UnpackError.unreadable(layer: name, reason: String(cString: strerror(errno)))
            }
            compressedHash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: fileBuffer[0..<got]))
            return got
        }
    }

    fileprivate func bufferStart() -> UnsafeRawPointer? { UnsafeRawPointer(fileBuffer.baseAddress) }

    fileprivate func nextDecompressedBlock() throws -> UnsafeRawBufferPointer? {
        guard let outer else { return nil }
        var block: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        let status = archive_read_data_block(outer, &block, &size, &offset)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw readError(outer) }
        let bytes = UnsafeRawBufferPointer(start: block, count: size)
        uncompressedHash.update(bufferPointer: bytes)
        return bytes
    }

    private func readError(_ archive: OpaquePointer) -> Error {
        if let failure { return failure }
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
        return UnpackError.unreadable(layer: name, reason: message)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
    }
}

/// libarchive read callback: the blob file itself (outer reader, or the tar reader of an
/// uncompressed layer).
private func readCompressedFile(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let stream = Unmanaged<LayerStream>.fromOpaque(context).takeUnretainedValue()
    do {
        let got = try stream.readFile()
        buffer.pointee = stream.bufferStart()
        return got
    } catch {
        stream.failure = error
        return -1
    }
}

/// libarchive read callback for the tar reader of a compressed layer: the outer reader's output.
private func readDecompressed(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let stream = Unmanaged<LayerStream>.fromOpaque(context).takeUnretainedValue()
    do {
        guard let block = try stream.nextDecompressedBlock() else { return 0 }
        buffer.pointee = block.baseAddress
        return block.count
    } catch {
        stream.failure = error
        return -1
    }
}
