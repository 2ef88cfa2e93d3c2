import CLinuxSystem
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// A directory that holds a root filesystem from an image, and path resolution inside it.
///
/// Nothing here resolves a path as a string against the host: parents are opened with
/// `openat2(RESOLVE_IN_ROOT)`, so a symlink in the rootfs, absolute or relative, resolves as if the
/// rootfs were `/` and `..` cannot climb out; the last component is then handled with `*at` calls
/// and `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW` relative to that parent (see ``DirectoryHandle``), so a
/// symlink can never redirect a write, chmod, chown or delete to the host.
public final class RootDirectory: Sendable {
    public let path: String
    public let fd: Int32

    /// Opens the root itself; `path` is the operator's and may be reached through symlinks, but
    /// must not be one.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw FilesystemError(path: path, operation: "open", errno: errno) }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// `fstat` of the root directory.
    public func status() throws -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemCallError(operation: "stat", errno: errno) }
        return info
    }

    static let inRoot = MBCTL_RESOLVE_IN_ROOT | MBCTL_RESOLVE_NO_MAGICLINKS

    /// Opens `path` (resolved inside the root, a symlink as its last component followed inside the
    /// root too) as a directory, for `*at` calls.
    public func openDirectory(_ path: EntryPath) throws -> DirectoryHandle {
        let fd = withCPath(path.relativeBytes) {
            mbctl_openat2(self.fd, $0, UInt64(MBCTL_O_PATH | O_DIRECTORY | O_CLOEXEC), 0, Self.inRoot)
        }
        guard fd >= 0 else { throw SystemCallError(operation: "open directory \(path.display)", errno: errno) }
        return DirectoryHandle(fd: fd)
    }

    /// Opens the directory `path`, creating missing components (mode 0755) and replacing
    /// non-directories in the way, as umoci does. Symlinks on the way are followed inside the root.
    public func makeDirectories(_ path: EntryPath) throws -> DirectoryHandle {
        if let existing = try? openDirectory(path) { return existing }
        var current = try openDirectory(EntryPath(components: []))
        var walked = EntryPath(components: [])
        for component in path.components {
            walked = walked.appending(component)
            if let next = try? openDirectory(walked) {
                current = next
                continue
            }
            // Missing, or something that is not a directory (perhaps a dangling symlink) is in the way.
            let status = try current.status(of: component)
            if status != nil {
                try current.removeTree(component)
            }
            try current.makeDirectory(component, mode: 0o755)
            current = try openDirectory(walked)
        }
        return current
    }
}
