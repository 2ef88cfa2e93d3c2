import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// Opening a file that someone else may have put there (an archive, a layout's blobs, a layer):
/// only a regular file is opened, and opening never waits. A FIFO would block `open` until a
/// writer comes (an mbctl that never returns and ignores Ctrl-C), a device or socket is no image;
/// so the file is opened with `O_NONBLOCK`, checked with `fstat`, and only then made blocking.
public enum RegularFileOpening {
    /// The descriptor of the regular file at `path`, opened with `flags` (plus close-on-exec);
    /// with `O_DIRECTORY` in `flags`, of the directory.
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_NONBLOCK | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FilesystemError(path: path, operation: "open", errno: errno) }
        do {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw FilesystemError(path: path, operation: "stat", errno: errno) }
            let wanted = flags & O_DIRECTORY != 0 ? S_IFDIR : S_IFREG
            guard (info.st_mode & S_IFMT) == wanted else {
                throw UnexpectedFileKind(
                    path: path, mode: info.st_mode, expected: wanted, advice: wanted == S_IFREG ? "mbctl reads images only from regular files" : nil)
            }
            if flags & O_NONBLOCK == 0 {
                let current = fcntl(fd, F_GETFL)
                guard current >= 0, fcntl(fd, F_SETFL, current & ~O_NONBLOCK) == 0 else {
                    throw FilesystemError(path: path, operation: "make blocking", errno: errno)
                }
            }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }
}

extension RegularFileOpening {
    /// The bytes of the small regular file at `path` (a configuration file, a key), at most
    /// `limit` of them (more is ``OCILayoutError/tooLarge(what:size:limit:)``, with the size read so far); nil when there is no such file. A FIFO, device or directory there is
    /// refused, never waited on.
    public static func contents(of path: String, limit: Int) throws -> Data? {
        let fd: Int32
        do {
            fd = try open(path, flags: O_RDONLY)
        } catch let error as FilesystemError where error.errno == ENOENT {
            return nil
        }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FilesystemError(path: path, operation: "read", errno: errno)
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[..<count])
            guard data.count <= limit else { throw OCILayoutError.tooLarge(what: path, size: Int64(data.count), limit: Int64(limit)) }
        }
    }
}
