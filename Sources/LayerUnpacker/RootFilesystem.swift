#if canImport(Glibc)
import Glibc
#endif

/// File operations on a root filesystem that came from an image, for whoever finishes a rootfs
/// after unpacking (Man8S installs its init into it). The image is untrusted: its `/sbin` may be
/// a symlink to `/../../etc`. So every path resolves inside the root, as it does while unpacking
/// (``RootDirectory``): symlinks as if the root were `/`, and never through the last component.
public struct RootFilesystem: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// What is at `path` (`lstat` inside the root): nil when nothing is.
    public func fileType(at path: String) throws -> FileKind? {
        let entry = EntryPath(raw: Array(path.utf8))
        let root = try RootDirectory(path: self.path)
        guard let parent = try? root.openDirectory(entry.parent) else { return nil }
        guard let info = try wrap({ try parent.status(of: entry.name) }, path) else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFREG: return .regularFile
        default: return .other
        }
    }

    public enum FileKind: Sendable {
        case regularFile, directory, symlink, other
    }

    /// Creates or replaces the regular file `path` with `contents` and `mode`, owned by root,
    /// making missing parent directories (0755).
    public func writeFile(_ path: String, contents: [UInt8], mode: mode_t) throws {
        let entry = EntryPath(raw: Array(path.utf8))
        let root = try RootDirectory(path: self.path)
        let parent = try wrap({ try root.makeDirectories(entry.parent) }, path)
        let temporary = entry.name + Array(".man8s-new".utf8)
        try wrap({
            if try parent.status(of: temporary) != nil { try parent.removeTree(temporary) }
            let fd = withCPath(temporary) { openat(parent.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            guard fd >= 0 else { throw SystemCallError(operation: "create", errno: errno) }
            defer { close(fd) }
            try RegularFile.writeAll(fd, contents, at: 0)
            guard fchmod(fd, mode) == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
            let renamed = withCPath(temporary) { from in withCPath(entry.name) { renameat(parent.fd, from, parent.fd, $0) } }
            guard renamed == 0 else { throw SystemCallError(operation: "rename", errno: errno) }
        }, path)
    }

    /// Copies the host file `source` (read normally: it is the host's) to `path` in the root.
    public func copyHostFile(_ source: String, to path: String, mode: mode_t) throws {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UnpackError.root(path: source, reason: "cannot read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = read(fd, &buffer, buffer.count)
            if got < 0 {
                if errno == EINTR { continue }
                throw UnpackError.root(path: source, reason: "cannot read: \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            contents += buffer[0..<got]
        }
        try writeFile(path, contents: contents, mode: mode)
    }

    /// Creates the symlink `path` → `target` (which is stored verbatim), replacing what is there.
    public func makeSymlink(_ path: String, to target: String) throws {
        let entry = EntryPath(raw: Array(path.utf8))
        let root = try RootDirectory(path: self.path)
        let parent = try wrap({ try root.makeDirectories(entry.parent) }, path)
        try wrap({
            if try parent.status(of: entry.name) != nil { try parent.removeTree(entry.name) }
            let result = withCPath(entry.name) { symlinkat(target, parent.fd, $0) }
            guard result == 0 else { throw SystemCallError(operation: "symlink", errno: errno) }
        }, path)
    }

    /// Creates directory `path` (and its parents) with `mode`; an existing directory is kept.
    public func makeDirectory(_ path: String, mode: mode_t) throws {
        let entry = EntryPath(raw: Array(path.utf8))
        let root = try RootDirectory(path: self.path)
        let parent = try wrap({ try root.makeDirectories(entry.parent) }, path)
        try wrap({
            if let info = try parent.status(of: entry.name) {
                if (info.st_mode & S_IFMT) == S_IFDIR { return }
                try parent.removeTree(entry.name)
            }
            try parent.makeDirectory(entry.name, mode: mode)
            let result = withCPath(entry.name) { fchmodat(parent.fd, $0, mode, AT_SYMLINK_NOFOLLOW) }
            if result != 0 && errno != ENOTSUP && errno != EOPNOTSUPP {
                throw SystemCallError(operation: "chmod", errno: errno)
            }
        }, path)
    }

    /// Renames `from` to `to`, both in the same directory of the root. Nothing happens when
    /// `from` does not exist; returns whether something was moved.
    @discardableResult
    public func rename(_ from: String, to: String) throws -> Bool {
        let source = EntryPath(raw: Array(from.utf8)), destination = EntryPath(raw: Array(to.utf8))
        guard source.parent == destination.parent else {
            throw UnpackError.root(path: from, reason: "can only rename within one directory")
        }
        let root = try RootDirectory(path: self.path)
        guard let parent = try? root.openDirectory(source.parent) else { return false }
        return try wrap({
            guard try parent.status(of: source.name) != nil else { return false }
            if try parent.status(of: destination.name) != nil { try parent.removeTree(destination.name) }
            let result = withCPath(source.name) { from in withCPath(destination.name) { renameat(parent.fd, from, parent.fd, $0) } }
            guard result == 0 else { throw SystemCallError(operation: "rename", errno: errno) }
            return true
        }, from)
    }

    private func wrap<T>(_ body: () throws -> T, _ path: String) throws -> T {
        do {
            return try body()
        } catch let error as SystemCallError {
            throw UnpackError.root(path: self.path + "/" + path.drop(while: { $0 == "/" }), reason: "\(error.operation): \(String(cString: strerror(error.errno)))")
        }
    }
}

extension RootFilesystem {
    /// Copies the tree at `path` inside the root to `destination` on the host, keeping modes,
    /// owners and mtimes, copying symlinks as symlinks, and never overwriting what is already at
    /// the destination (the user's files win). Returns the host paths it created, deepest last.
    /// Nothing when `path` does not exist in the root.
    public func copyTree(_ path: String, toHost destination: String) throws -> [String] {
        let entry = EntryPath(raw: Array(path.utf8))
        let root = try RootDirectory(path: self.path)
        guard let parent = try? root.openDirectory(entry.parent) else { return [] }
        var created: [String] = []
        do {
            try TreeCopy.copy(entry.isRoot ? [0x2E] : entry.name, in: parent, to: destination, created: &created)
        } catch let error as SystemCallError {
            throw UnpackError.root(path: destination, reason: "\(error.operation): \(String(cString: strerror(error.errno)))")
        }
        return created
    }
}

/// The recursive copy behind ``RootFilesystem/copyTree(_:toHost:)``.
enum TreeCopy {
    static func copy(_ name: [UInt8], in parent: DirectoryHandle, to destination: String, created: inout [String]) throws {
        guard let info = try parent.status(of: name) else { return }
        var existing = stat()
        let exists = lstat(destination, &existing) == 0
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            if !exists {
                guard mkdir(destination, info.st_mode & 0o7777) == 0 else { throw SystemCallError(operation: "mkdir \(destination)", errno: errno) }
                created.append(destination)
            } else if (existing.st_mode & S_IFMT) != S_IFDIR {
                return
            }
            let fd = withCPath(name) { openat(parent.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else { throw SystemCallError(operation: "open", errno: errno) }
            let directory = DirectoryHandle(fd: fd)
            for child in try directory.entries() {
                try copy(child, in: directory, to: destination + "/" + String(decoding: child, as: UTF8.self), created: &created)
            }
            if !exists { try finish(destination, info) }
        case S_IFREG:
            guard !exists else { return }
            let source = withCPath(name) { openat(parent.fd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            guard source >= 0 else { throw SystemCallError(operation: "open", errno: errno) }
            defer { close(source) }
            let target = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard target >= 0 else { throw SystemCallError(operation: "create \(destination)", errno: errno) }
            created.append(destination)
            defer { close(target) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var offset: Int64 = 0
            while true {
                let got = read(source, &buffer, buffer.count)
                if got < 0 {
                    if errno == EINTR { continue }
                    throw SystemCallError(operation: "read", errno: errno)
                }
                if got == 0 { break }
                try RegularFile.writeAll(target, Array(buffer[0..<got]), at: offset)
                offset += Int64(got)
            }
            try finish(destination, info)
        case S_IFLNK:
            guard !exists else { return }
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = withCPath(name) { readlinkat(parent.fd, $0, &target, target.count - 1) }
            guard length >= 0 else { throw SystemCallError(operation: "readlink", errno: errno) }
            target[length] = 0
            guard symlink(target, destination) == 0 else { throw SystemCallError(operation: "symlink \(destination)", errno: errno) }
            created.append(destination)
            _ = lchown(destination, info.st_uid, info.st_gid)
        default:
            // Devices, FIFOs and sockets are no seed data.
            return
        }
    }

    /// Owner, mode and times of a copied file or directory.
    private static func finish(_ path: String, _ info: stat) throws {
        _ = lchown(path, info.st_uid, info.st_gid)
        guard chmod(path, info.st_mode & 0o7777) == 0 else { throw SystemCallError(operation: "chmod \(path)", errno: errno) }
        var times = [info.st_atim, info.st_mtim]
        _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }
}
