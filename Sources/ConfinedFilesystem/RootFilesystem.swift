#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

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
        let entry = EntryPath(path)
        let root = try RootDirectory(path: self.path)
        guard let parent = try? root.openDirectory(entry.parent) else { return nil }
        guard let info = try naming(path, { try parent.status(of: entry.name) }) else { return nil }
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
        let entry = EntryPath(path)
        let root = try RootDirectory(path: self.path)
        try naming(inRoot(path)) {
            let parent = try root.makeDirectories(entry.parent)
            let temporary = entry.name + Array(".mbctl-new".utf8)
            if try parent.status(of: temporary) != nil { try parent.removeTree(temporary) }
            if let existing = try parent.status(of: entry.name), (existing.st_mode & S_IFMT) == S_IFDIR {
                try parent.removeTree(entry.name)
            }
            try parent.writeFile(entry.name, contents: contents, mode: mode)
        }
    }

    /// Copies the host file `source` (read normally: it is the host's) to `path` in the root.
    public func copyHostFile(_ source: String, to path: String, mode: mode_t) throws {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FilesystemError(path: source, operation: "read", errno: errno) }
        defer { close(fd) }
        let contents = try naming(source) { try FileDescriptor.read(fd, limit: Self.largestHostFile) }
        try writeFile(path, contents: contents, mode: mode)
    }

    /// A bound for host files copied in (busybox is about 2 MiB).
    static let largestHostFile = 256 << 20

    /// Creates the symlink `path` → `target` (which is stored verbatim), replacing what is there.
    public func makeSymlink(_ path: String, to target: String) throws {
        let entry = EntryPath(path)
        let root = try RootDirectory(path: self.path)
        try naming(inRoot(path)) {
            let parent = try root.makeDirectories(entry.parent)
            if try parent.status(of: entry.name) != nil { try parent.removeTree(entry.name) }
            try parent.makeSymlink(entry.name, to: Array(target.utf8))
        }
    }

    /// Creates directory `path` (and its parents) with `mode`; an existing directory is kept.
    public func makeDirectory(_ path: String, mode: mode_t) throws {
        let entry = EntryPath(path)
        let root = try RootDirectory(path: self.path)
        try naming(inRoot(path)) {
            let parent = try root.makeDirectories(entry.parent)
            if let info = try parent.status(of: entry.name) {
                if (info.st_mode & S_IFMT) == S_IFDIR { return }
                try parent.removeTree(entry.name)
            }
            try parent.makeDirectory(entry.name, mode: mode)
            let result = withCPath(entry.name) { fchmodat(parent.fd, $0, mode, AT_SYMLINK_NOFOLLOW) }
            if result != 0 && errno != ENOTSUP && errno != EOPNOTSUPP {
                throw SystemCallError(operation: "chmod", errno: errno)
            }
        }
    }

    /// Renames `from` to `to`, both in the same directory of the root. Nothing happens when
    /// `from` does not exist; returns whether something was moved.
    @discardableResult
    public func rename(_ from: String, to: String) throws -> Bool {
        let source = EntryPath(from), destination = EntryPath(to)
        guard source.parent == destination.parent else {
            throw RefusedPath(path: inRoot(from), reason: "can only rename within one directory")
        }
        let root = try RootDirectory(path: self.path)
        guard let parent = try? root.openDirectory(source.parent) else { return false }
        return try naming(inRoot(from)) {
            guard try parent.status(of: source.name) != nil else { return false }
            if try parent.status(of: destination.name) != nil { try parent.removeTree(destination.name) }
            try parent.rename(source.name, to: destination.name)
            return true
        }
    }

    /// `path` of the root as a host path, for messages.
    func inRoot(_ path: String) -> String {
        self.path + "/" + path.drop(while: { $0 == "/" })
    }
}
