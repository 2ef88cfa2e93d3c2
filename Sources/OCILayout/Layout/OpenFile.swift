import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemErrors

/// An open file descriptor that closes itself, with the few POSIX calls the store needs
/// (Foundation's FileHandle can neither lock nor report errno).
final class OpenFile {
    let fd: Int32
    let path: String

    /// Opens the regular file at `path`; anything else (a FIFO, a device) is refused at once.
    init(path: String, flags: Int32, mode: mode_t = 0o644) throws {
        self.fd = try RegularFileOpening.open(path, flags: flags, mode: mode)
        self.path = path
    }

    deinit { close(fd) }

    /// Takes an exclusive `flock`, waiting for any other holder (another mbctl process).
    func lockExclusive() throws {
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FilesystemError(path: path, operation: "lock", errno: errno) }
        }
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw FilesystemError(path: path, operation: "write", errno: errno)
            }
            offset += written
        }
    }

    /// Reads up to `count` bytes; fewer only at end of file.
    func read(upTo count: Int) throws -> Data {
        var data = Data(count: count)
        var filled = 0
        try data.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            while filled < count {
                let got = Glibc.read(fd, base + filled, count - filled)
                if got < 0 {
                    if errno == EINTR { continue }
                    throw FilesystemError(path: path, operation: "read", errno: errno)
                }
                if got == 0 { break }
                filled += got
            }
        }
        data.count = filled
        return data
    }

    func status() throws -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FilesystemError(path: path, operation: "stat", errno: errno) }
        return info
    }

    func truncate(to length: Int64) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw FilesystemError(path: path, operation: "truncate", errno: errno) }
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw FilesystemError(path: path, operation: "fsync", errno: errno) }
    }
}

/// Filesystem steps that must be atomic or durable, shared by the blob store and the layout index.
enum DurableFile {
    /// `mkdir -p`.
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) == 0 { return }
        let code = errno
        if code == EEXIST {
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw FilesystemError(path: path, operation: "create directory", errno: ENOTDIR)
        }
        guard code == ENOENT else { throw FilesystemError(path: path, operation: "create directory", errno: code) }
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != path else { throw FilesystemError(path: path, operation: "create directory", errno: code) }
        try makeDirectory(parent, mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw FilesystemError(path: path, operation: "create directory", errno: errno)
        }
    }

    static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw FilesystemError(path: to, operation: "rename into place", errno: errno) }
    }

    /// Makes a rename inside `directory` survive a crash.
    static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FilesystemError(path: directory, operation: "open", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FilesystemError(path: directory, operation: "fsync", errno: errno) }
    }

    /// Writes `data` to `path` through a temporary file in the same directory and a rename, so a
    /// reader sees the old or the new content, never a mix.
    static func replace(_ path: String, with data: Data) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        do {
            let file = try OpenFile(path: temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
            try data.withUnsafeBytes { try file.writeAll($0) }
            try file.sync()
            try rename(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
        try syncDirectory(directory)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
