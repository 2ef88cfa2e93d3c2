import OCILayout
import CArchive
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a layer blob on a thread of its own: hashes the compressed bytes (the layer digest),
/// undoes the compression with libarchive's `raw` format, hashes the result (the `diff_id`) and
/// hands it on in chunks through a ``ChunkPipe``.
///
/// Decompressing and hashing then run beside the tar reader that creates files, as `gzip -d |
/// tar -x` would, so unpacking uses two cores instead of one.
///
/// `@unchecked Sendable`: its reading state belongs to its thread until that thread signals
/// `done`; ``digests`` is read only after waiting for that signal.
final class LayerDecompressor: @unchecked Sendable {
    let pipe = ChunkPipe(chunks: 6, chunkSize: 1 << 20)
    private let bytes: any LayerBytes
    /// How far into the blob ``readFile()`` has read.
    private var offset: Int64 = 0
    private let compression: LayerCompression
    private let name: String
    private let done = DispatchSemaphore(value: 0)
    private var compressedHash = SHA256()
    private var uncompressedHash = SHA256()
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    /// Set when the thread has finished: the two digests, `sha256:` hex.
    private(set) var digests: (digest: String, diffID: String)?

    init(bytes: any LayerBytes, compression: LayerCompression, name: String) {
        self.bytes = bytes
        self.compression = compression
        self.name = name
    }

    private var started = false

    func start() {
        started = true
        let thread = Thread { [self] in
            do {
                try run()
                pipe.close()
            } catch {
                pipe.close(error: error)
            }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits for the thread to end (after the pipe was drained or abandoned), if it started.
    func wait() {
        guard started else { return }
        done.wait()
        done.signal()
    }

    deinit {
        readBuffer.deallocate()
    }

    private func run() throws {
        var chunk: Chunk? = pipe.emptyChunk()
        /// Copies `bytes` into chunks, handing each on when full. False when the reader went away.
        func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
            var rest = bytes
            while !rest.isEmpty {
                guard let current = chunk else { return false }
                let taken = current.fill(from: rest)
                rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
                if current.room == 0 {
                    guard pipe.put(current) else { return false }
                    chunk = pipe.emptyChunk()
                }
            }
            return true
        }
        func flush() -> Bool {
            guard let current = chunk else { return false }
            return current.count == 0 || pipe.put(current)
        }

        if compression == .none {
            while true {
                let got = try readFile()
                if got == 0 { break }
                guard send(UnsafeRawBufferPointer(rebasing: readBuffer[0..<got])) else { return }
            }
            guard flush() else { return }
            let hex = LayerDecompressor.hex(compressedHash.finalize())
            digests = ("sha256:" + hex, "sha256:" + hex)
            return
        }
        if compression == .gzip {
            try inflateGzip(into: &chunk)
            return
        }
        guard let outer = archive_read_new() else { throw UnpackError.unreadable(layer: name, reason: "libarchive could not start") }
        defer { archive_read_free(outer) }
        guard archive_read_support_filter_zstd(outer) == ARCHIVE_OK, archive_read_support_format_raw(outer) == ARCHIVE_OK else {
            throw readError(outer)
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard archive_read_open(outer, context, nil, readBlobFile, nil) == ARCHIVE_OK else { throw readError(outer) }
        var entry: OpaquePointer?
        guard archive_read_next_header(outer, &entry) == ARCHIVE_OK else { throw readError(outer) }
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let status = archive_read_data_block(outer, &block, &size, &offset)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw readError(outer) }
            let bytes = UnsafeRawBufferPointer(start: block, count: size)
            uncompressedHash.update(bufferPointer: bytes)
            guard send(bytes) else { return }
        }
        guard flush() else { return }
        // Whatever follows the compressed stream still belongs to the blob's digest.
        while try readFile() > 0 {}
        digests = ("sha256:" + Self.hex(compressedHash.finalize()), "sha256:" + Self.hex(uncompressedHash.finalize()))
    }

    /// gzip through ISA-L, decompressing straight into the pipe's chunks.
    private func inflateGzip(into chunk: inout Chunk?) throws {
        var inflater = GzipInflater()
        var input = UnsafeRawBufferPointer(start: nil, count: 0)
        while true {
            if input.isEmpty {
                let got = try readFile()
                input = UnsafeRawBufferPointer(rebasing: readBuffer[0..<got])
                inflater.continueAfterBoundary(input)
                if got == 0 { break }
            }
            if inflater.finished {
                // Bytes after the gzip stream: not content, but part of the digest.
                input = UnsafeRawBufferPointer(start: nil, count: 0)
                continue
            }
            guard let current = chunk else { return }
            let free = UnsafeMutableRawBufferPointer(rebasing: current.storage[current.count...])
            let (consumed, produced) = try inflater.inflate(input, into: free, layer: name)
            uncompressedHash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: free[0..<produced]))
            current.count += produced
            input = UnsafeRawBufferPointer(rebasing: input[consumed...])
            if current.room == 0 {
                guard pipe.put(current) else { return }
                chunk = pipe.emptyChunk()
            }
        }
        guard inflater.isComplete else {
            throw UnpackError.unreadable(layer: name, reason: "the gzip stream is truncated")
        }
        if let current = chunk, current.count > 0 {
            guard pipe.put(current) else { return }
        }
        digests = ("sha256:" + Self.hex(compressedHash.finalize()), "sha256:" + Self.hex(uncompressedHash.finalize()))
    }

    /// Reads the next part of the blob into `readBuffer`, hashing it. Waits for bytes that are
    /// still arriving.
    fileprivate func readFile() throws -> Int {
        let got = try Self.reading(name) { try bytes.read(into: readBuffer, at: offset) }
        offset += Int64(got)
        compressedHash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: readBuffer[0..<got]))
        return got
    }

    /// Runs a read of layer `name`'s bytes, naming the layer in a failed system call.
    static func reading(_ name: String, _ read: () throws -> Int) throws -> Int {
        do {
            return try read()
        } catch let error as SystemReadError {
            throw UnpackError.unreadable(layer: name, reason: String(cString: strerror(error.errno)))
        }
    }

    fileprivate func bufferStart() -> UnsafeRawPointer? {
        UnsafeRawPointer(readBuffer.baseAddress)
    }

    fileprivate var failure: Error?

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

/// libarchive read callback of the decompressing reader: the blob file.
private func readBlobFile(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let decompressor = Unmanaged<LayerDecompressor>.fromOpaque(context).takeUnretainedValue()
    do {
        let got = try decompressor.readFile()
        buffer.pointee = decompressor.bufferStart()
        return got
    } catch {
        decompressor.failure = error
        return -1
    }
}
