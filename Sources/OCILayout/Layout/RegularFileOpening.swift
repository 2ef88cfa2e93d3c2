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
