import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bytes read in order from an archive file, transparently gunzipped when the file starts with
/// the gzip magic (so `.tar` and `.tar.gz` read the same).
final class ByteStream {
    let path: String
    private let fd: Int32
    private var gzip: GzipStream?
    private let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    private var inputStart = 0
    private var inputEnd = 0
    private var fileEnded = false

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCILayoutError.io(path: path, operation: "open", errno: errno) }
        var magic = [UInt8](repeating: 0, count: 2)
        if pread(fd, &magic, 2, 0) == 2, magic == [0x1F, 0x8B] {
            gzip = try GzipStream(path: path)
        }
    }

    deinit {
        input.deallocate()
        close(fd)
    }

    /// Reads up to `count` bytes into `buffer`; 0 only at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if let gzip {
            while true {
                if inputStart == inputEnd && !fileEnded { try refill() }
                let available = UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd])
                let (consumed, produced) = try gzip.inflate(available, into: buffer, atEndOfFile: fileEnded)
                inputStart += consumed
                if produced > 0 { return produced }
                if gzip.ended { return 0 }
                if fileEnded && inputStart == inputEnd {
                    throw OCILayoutError.invalidArchive(path: path, reason: "the gzip stream is truncated")
                }
            }
        }
        while true {
            let got = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if got < 0 {
                if errno == EINTR { continue }
                throw OCILayoutError.io(path: path, operation: "read", errno: errno)
            }
            return got
        }
    }

    private func refill() throws {
        let got = Glibc.read(fd, input.baseAddress, input.count)
        guard got >= 0 else { throw OCILayoutError.io(path: path, operation: "read", errno: errno) }
        inputStart = 0
        inputEnd = got
        if got == 0 { fileEnded = true }
    }
}

/// zlib inflate of a gzip stream (members one after another, as gzip(1) reads them).
final class GzipStream {
    private var stream = z_stream()
    private let path: String
    /// The last member ended and no other followed.
    private(set) var ended = false
    /// A member ended exactly at the end of the input given: the next bytes decide.
    private var atBoundary = false

    init(path: String) throws {
        self.path = path
        let status = inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw OCILayoutError.invalidArchive(path: path, reason: "zlib could not start") }
    }

    deinit { inflateEnd(&stream) }

    /// Returns (input bytes used, output bytes made).
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, atEndOfFile: Bool) throws -> (Int, Int) {
        if ended { return (input.count, 0) }
        if atBoundary {
            if input.count >= 2, input[0] == 0x1F, input[1] == 0x8B {
                inflateReset(&stream)
                atBoundary = false
            } else if !input.isEmpty || atEndOfFile {
                // Trailing bytes that are no gzip member: the stream is over.
                ended = true
                return (input.count, 0)
            } else {
                return (0, 0)
            }
        }
        if input.isEmpty { return (0, 0) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        let status = CZlib.inflate(&stream, Z_NO_FLUSH)
        let consumed = input.count - Int(stream.avail_in)
        let produced = output.count - Int(stream.avail_out)
        switch status {
        case Z_OK, Z_BUF_ERROR:
            return (consumed, produced)
        case Z_STREAM_END:
            atBoundary = true
            return (consumed, produced)
        default:
            throw OCILayoutError.invalidArchive(path: path, reason: "corrupt gzip data")
        }
    }
}
