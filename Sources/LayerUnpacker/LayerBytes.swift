import OCILayout
import SystemErrors
#if canImport(Glibc)
import Glibc
#endif

/// Where a layer blob's (compressed) bytes are read from: a file that is complete, or the
/// bytes of a download as they arrive, which the unpacker then applies while they come.
public protocol LayerBytes: Sendable {
    /// Reads up to `buffer.count` bytes at `offset`; 0 only at the end of the blob. May wait
    /// for bytes that have yet to arrive.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int
}

/// A layer blob that is a complete file.
final class LayerFile: LayerBytes, Sendable {
    private let fd: Int32

    init(path: String, layer: String) throws {
        do {
            fd = try RegularFileOpening.open(path, flags: O_RDONLY)
        } catch {
            throw UnpackError.unopenable(layer: layer, cause: ErrorCause(error))
        }
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        while true {
            let got = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if got >= 0 { return got }
            guard errno == EINTR else { throw SystemReadError(errno: errno) }
        }
    }
}

/// A read of layer bytes failed (``LayerDecompressor`` names the layer).
struct SystemReadError: Error {
    let errno: Int32
}
