import CLinuxSystem
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// An open directory: the anchor of `*at` calls on its entries.
///
/// Every operation names an entry of this directory and never follows it when it is a symlink,
/// and a handle keeps pointing at the same directory whatever is renamed or replaced on the way
/// to it later. So code that got a handle safely (inside a root, or beneath a directory it made)
/// stays confined there.
public final class DirectoryHandle: Sendable {
    public let fd: Int32

    /// Takes ownership of `fd`, which is closed with the handle.
    public init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Opens a directory of the host by path. The path is the operator's (a configured host
    /// directory), so symlinks on the way are followed, except as the last component when
    /// `allowingSymlink` is false.
    public static func open(_ path: String, allowingSymlink: Bool = true) throws -> DirectoryHandle {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (allowingSymlink ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP || (code == ENOTDIR && !allowingSymlink && isSymlink(path)) {
                throw RefusedPath(path: path, reason: "is a symlink; mbctl does not follow it here")
            }
            throw FilesystemError(path: path, operation: "open directory", errno: code)
        }
        return DirectoryHandle(fd: fd)
    }

    private static func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// `fstat` of this directory.
    public func status() throws -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemCallError(operation: "stat", errno: errno) }
        return info
    }

    /// `lstat` of entry `name`, or nil when there is none.
    public func status(of name: [UInt8]) throws -> stat? {
        var info = stat()
        let result = withCPath(name) { fstatat(fd, $0, &info, AT_SYMLINK_NOFOLLOW) }
        if result == 0 { return info }
        if errno == ENOENT { return nil }
        throw SystemCallError(operation: "stat", errno: errno)
    }

    /// Creates directory `name`; an existing entry of that name is left as it is.
    public func makeDirectory(_ name: [UInt8], mode: mode_t) throws {
        let result = withCPath(name) { mkdirat(fd, $0, mode) }
        guard result == 0 || errno == EEXIST else { throw SystemCallError(operation: "mkdir", errno: errno) }
    }

    /// Creates directory `name` unless a directory is there. Returns whether it made it: a
    /// directory that was there already was not made by this call, whoever made it. Anything
    /// else in the way (a file, a symlink) is an error, never followed or replaced.
    public func makeDirectoryIfMissing(_ name: [UInt8], mode: mode_t) throws -> Bool {
        let result = withCPath(name) { mkdirat(fd, $0, mode) }
        if result == 0 { return true }
        guard errno == EEXIST else { throw SystemCallError(operation: "mkdir", errno: errno) }
        guard let info = try status(of: name), (info.st_mode & S_IFMT) == S_IFDIR else {
            throw SystemCallError(operation: "use as a directory (something else is there)", errno: ENOTDIR)
        }
        return false
    }

    /// Opens the directory `name` of this one for reading and changing, never through a symlink.
    public func openDirectory(_ name: [UInt8]) throws -> DirectoryHandle {
        let fd = withCPath(name) { openat(self.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemCallError(operation: "open directory", errno: errno == ELOOP ? ENOTDIR : errno) }
        return DirectoryHandle(fd: fd)
    }

    /// Opens the directory `path` below this one through real directories only: no symlink
    /// anywhere on the way, no `..` above this directory, no other filesystem's magic links.
    public func openBeneath(_ path: EntryPath) throws -> DirectoryHandle {
        let resolve = MBCTL_RESOLVE_BENEATH | MBCTL_RESOLVE_NO_SYMLINKS | MBCTL_RESOLVE_NO_MAGICLINKS
        let fd = withCPath(path.relativeBytes) {
            mbctl_openat2(self.fd, $0, UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0, resolve)
        }
        guard fd >= 0 else { throw SystemCallError(operation: "open directory \(path.display)", errno: errno) }
        return DirectoryHandle(fd: fd)
    }

    /// Removes entry `name` and, for a directory, everything below it, never following symlinks.
    /// A btrfs subvolume goes in one step, as `btrfs subvolume delete` removes it.
    public func removeTree(_ name: [UInt8]) throws {
        guard let info = try status(of: name) else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            let child = withCPath(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard child >= 0 else { throw SystemCallError(operation: "open for removal", errno: errno) }
            let directory = DirectoryHandle(fd: child)
            if UInt64(info.st_ino) == Btrfs.subvolumeRootInode, Btrfs.isSubvolume(directory), Btrfs.destroySubvolume(name, in: self) {
                return
            }
            for entry in try directory.entries() {
                try directory.removeTree(entry)
            }
            let result = withCPath(name) { unlinkat(fd, $0, AT_REMOVEDIR) }
            guard result == 0 || errno == ENOENT else { throw SystemCallError(operation: "remove directory", errno: errno) }
        } else {
            try remove(name)
        }
    }

    /// Removes the non-directory `name`; nothing when it is gone already.
    public func remove(_ name: [UInt8]) throws {
        let result = withCPath(name) { unlinkat(fd, $0, 0) }
        guard result == 0 || errno == ENOENT else { throw SystemCallError(operation: "remove", errno: errno) }
    }

    /// Renames entry `from` of this directory to `to` in `destination` (this one by default),
    /// replacing what `to` names as rename(2) does.
    public func rename(_ from: [UInt8], to: [UInt8], in destination: DirectoryHandle? = nil) throws {
        let result = withCPath(from) { source in withCPath(to) { renameat(fd, source, (destination ?? self).fd, $0) } }
        guard result == 0 else { throw SystemCallError(operation: "rename", errno: errno) }
    }

    /// Renames entry `from` of this directory to `to` (in `destination`, this one by default),
    /// failing with `EEXIST` rather than replace anything `to` names.
    public func renameWithoutReplacing(_ from: [UInt8], to: [UInt8], in destination: DirectoryHandle? = nil) throws {
        let result = withCPath(from) { source in withCPath(to) { mbctl_rename_noreplace(fd, source, (destination ?? self).fd, $0) } }
        guard result == 0 else { throw SystemCallError(operation: "rename", errno: errno) }
    }

    /// Creates the symlink `name` → `target` (stored verbatim, never resolved here).
    public func makeSymlink(_ name: [UInt8], to target: [UInt8]) throws {
        let result = withCPath(target) { target in withCPath(name) { symlinkat(target, fd, $0) } }
        guard result == 0 else { throw SystemCallError(operation: "symlink", errno: errno) }
    }

    /// Writes `contents` to `name` with `mode`: into a new temporary file that is renamed over
    /// `name` once complete, so readers see the old file or the new one, never a part.
    public func writeFile(_ name: [UInt8], contents: [UInt8], mode: mode_t) throws {
        let temporary = name + Array(".mbctl-new".utf8)
        try remove(temporary)
        let file = withCPath(temporary) { openat(fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard file >= 0 else { throw SystemCallError(operation: "create", errno: errno) }
        do {
            defer { close(file) }
            try FileDescriptor.writeAll(file, contents, at: 0)
            guard fchmod(file, mode) == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
            guard fsync(file) == 0 else { throw SystemCallError(operation: "sync", errno: errno) }
            try rename(temporary, to: name)
        } catch {
            try? remove(temporary)
            throw error
        }
    }

    /// Makes the regular file `name` hold `contents`, keeping its inode: for a file bound into a
    /// running machine, where a new file renamed over it would go unseen. Readers may see a
    /// part while it is written (as with Docker's `/etc/hosts`). A missing file is written anew
    /// (``writeFile(_:contents:mode:)``); one that holds `contents` already is left untouched.
    /// Returns whether anything was written.
    @discardableResult
    public func rewriteFile(_ name: [UInt8], contents: [UInt8], mode: mode_t) throws -> Bool {
        let file = withCPath(name) { openat(fd, $0, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        guard file >= 0 else {
            guard errno == ENOENT else { throw SystemCallError(operation: "open", errno: errno) }
            try writeFile(name, contents: contents, mode: mode)
            return true
        }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else { throw SystemCallError(operation: "stat", errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw UnexpectedFileKind(path: nil, mode: info.st_mode, expected: S_IFREG) }
        if Int(info.st_size) == contents.count, try FileDescriptor.read(file, limit: contents.count + 1) == contents, info.st_mode & 0o7777 == mode {
            return false
        }
        try FileDescriptor.writeAll(file, contents, at: 0)
        guard ftruncate(file, off_t(contents.count)) == 0 else { throw SystemCallError(operation: "truncate", errno: errno) }
        guard fchmod(file, mode) == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
        guard fsync(file) == 0 else { throw SystemCallError(operation: "sync", errno: errno) }
        return true
    }

    /// The first `limit` bytes of the regular file `name`, never through a symlink; nil when
    /// there is no such file.
    public func readFile(_ name: [UInt8], limit: Int) throws -> [UInt8]? {
        let file = withCPath(name) { openat(fd, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        guard file >= 0 else {
            if errno == ENOENT { return nil }
            throw SystemCallError(operation: "open", errno: errno)
        }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else { throw SystemCallError(operation: "stat", errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw UnexpectedFileKind(path: nil, mode: info.st_mode, expected: S_IFREG) }
        return try FileDescriptor.read(file, limit: limit)
    }

    /// The names in this directory, without `.` and `..`.
    public func entries() throws -> [[UInt8]] {
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0 else { throw SystemCallError(operation: "read directory", errno: errno) }
        guard let stream = fdopendir(copy) else {
            let code = errno
            close(copy)
            throw SystemCallError(operation: "read directory", errno: code)
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

/// Whole reads and writes on a file descriptor.
public enum FileDescriptor {
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard let base = bytes.baseAddress else { return }
        var written = 0
        while written < bytes.count {
            let result = pwrite(fd, base + written, bytes.count - written, off_t(offset) + off_t(written))
            if result < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(operation: "write", errno: errno)
            }
            written += result
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, at: offset) }
    }

    /// Reads from the current offset to the end, or `limit` bytes, whichever comes first.
    public static func read(_ fd: Int32, limit: Int) throws -> [UInt8] {
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while contents.count < limit {
            let got = Glibc.read(fd, &buffer, min(buffer.count, limit - contents.count))
            if got < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(operation: "read", errno: errno)
            }
            if got == 0 { break }
            contents += buffer[0..<got]
        }
        return contents
    }
}
