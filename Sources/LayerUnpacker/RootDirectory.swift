import CLinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The directory a rootfs is built in, and every filesystem operation on it.
///
/// Nothing here resolves a path as a string against the host: parents are opened with
/// `openat2(RESOLVE_IN_ROOT)`, so a symlink in the rootfs, absolute or relative, resolves as if the
/// rootfs were `/` and `..` cannot climb out; the last component is then handled with `*at` calls
/// and `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW` relative to that parent, so a symlink can never redirect
/// a write, chmod, chown or delete to the host.
final class RootDirectory: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw UnpackError.root(path: path, reason: String(cString: strerror(errno))) }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    private static let inRoot = MBCTL_RESOLVE_IN_ROOT | MBCTL_RESOLVE_NO_MAGICLINKS

    /// Opens `path` (resolved inside the root) as a directory, for `*at` calls.
    func openDirectory(_ path: EntryPath) throws -> DirectoryHandle {
        let fd = withCPath(path.relativeBytes) {
            mbctl_openat2(self.fd, $0, UInt64(MBCTL_O_PATH | O_DIRECTORY | O_CLOEXEC), 0, Self.inRoot)
        }
        guard fd >= 0 else { throw SystemCallError(operation: "open directory \(path.display)", errno: errno) }
        return DirectoryHandle(fd: fd)
    }

    /// Opens the directory `path`, creating missing components (mode 0755) and replacing
    /// non-directories in the way, as umoci does. Symlinks on the way are followed inside the root.
    func makeDirectories(_ path: EntryPath) throws -> DirectoryHandle {
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

/// An `O_PATH` descriptor of a directory inside the root: the anchor of `*at` calls on its entries.
final class DirectoryHandle {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// `lstat` of entry `name`, or nil when there is none.
    func status(of name: [UInt8]) throws -> stat? {
        var info = stat()
        let result = withCPath(name) { fstatat(fd, $0, &info, AT_SYMLINK_NOFOLLOW) }
        if result == 0 { return info }
        if errno == ENOENT { return nil }
        throw SystemCallError(operation: "stat", errno: errno)
    }

    func makeDirectory(_ name: [UInt8], mode: mode_t) throws {
        let result = withCPath(name) { mkdirat(fd, $0, mode) }
        guard result == 0 || errno == EEXIST else { throw SystemCallError(operation: "mkdir", errno: errno) }
    }

    /// Removes entry `name` and, for a directory, everything below it, never following symlinks.
    func removeTree(_ name: [UInt8]) throws {
        guard let info = try status(of: name) else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            let child = withCPath(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard child >= 0 else { throw SystemCallError(operation: "open for removal", errno: errno) }
            let directory = DirectoryHandle(fd: child)
            for entry in try directory.entries() {
                try directory.removeTree(entry)
            }
            let result = withCPath(name) { unlinkat(fd, $0, AT_REMOVEDIR) }
            guard result == 0 || errno == ENOENT else { throw SystemCallError(operation: "remove directory", errno: errno) }
        } else {
            let result = withCPath(name) { unlinkat(fd, $0, 0) }
            guard result == 0 || errno == ENOENT else { throw SystemCallError(operation: "remove", errno: errno) }
        }
    }

    /// The names in this directory, without `.` and `..`.
    func entries() throws -> [[UInt8]] {
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0, let stream = fdopendir(copy) else {
            throw SystemCallError(operation: "read directory", errno: errno)
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names
    }
}
