import ConfinedFilesystem
#if canImport(Glibc)
import Glibc
import CLinuxSystem
#endif
import SystemErrors

/// What rootless unpacking could not do, counted.
struct SkipCounters {
    var ownership = 0
    var xattrs = 0
}

/// Creating a regular file and giving it its attributes, shared by the reader and the workers.
enum RegularFile {
    /// Creates `name` in `parent` (it must not exist), lets `write` fill it, then sets owner, mode
    /// (after the owner, which would clear setuid), xattrs (after the owner, which would clear
    /// `security.capability`) and times.
    static func create(
        _ name: [UInt8], in parent: DirectoryHandle, metadata: EntryMetadata, rootless: Bool,
        counters: inout SkipCounters, write: (Int32) throws -> Void
    ) throws {
        let fd = withCPath(name) { openat(parent.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw SystemCallError(operation: "create file", errno: errno) }
        defer { close(fd) }
        try write(fd)
        try applyAttributes(metadata, to: fd, rootless: rootless, counters: &counters)
    }

    /// Owner, mode, xattrs and times of an open file or directory.
    static func applyAttributes(_ metadata: EntryMetadata, to fd: Int32, rootless: Bool, counters: inout SkipCounters) throws {
        if fchown(fd, metadata.uid, metadata.gid) != 0 {
            guard rootless && (errno == EPERM || errno == EINVAL) else { throw SystemCallError(operation: "chown", errno: errno) }
            counters.ownership += 1
        }
        guard fchmod(fd, metadata.permissions) == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
        for xattr in metadata.xattrs {
            let result = withCPath(xattr.name) { fsetxattr(fd, $0, xattr.value, xattr.value.count, 0) }
            if result != 0 {
                guard rootless && (errno == EPERM || errno == EACCES) else {
                    throw SystemCallError(operation: "set xattr \(String(decoding: xattr.name, as: UTF8.self))", errno: errno)
                }
                counters.xattrs += 1
            }
        }
        var times = [metadata.accessTime, metadata.modificationTime]
        guard futimens(fd, &times) == 0 else { throw SystemCallError(operation: "set times", errno: errno) }
    }
}
