import CLinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// An exclusive lock on a file of a directory, held until ``release()`` (or the end of the
/// object, or of the process, however it ends: the kernel drops an open-file-description lock
/// when its descriptor closes, so a `kill -9` never leaves a lock held).
///
/// The file exists while the lock is held and is removed on release, so that locks leave
/// nothing behind; a taker checks after locking that the file it locked is still the one of
/// that name (a releasing holder may have removed it in between) and tries again if not. The
/// file carries a note from the holder (its PID, what it claims), for others to read while it
/// is held; the file of a holder that was killed means nothing and is taken over.
///
/// A shared lock (many holders, no exclusive one) leaves the file in place: another holder may
/// still have it.
public final class FileLock: Sendable {
    /// The locked file's descriptor; -1 once released. Held while it is used, so that a release
    /// from another thread never closes it under a write.
    private let descriptor: Mutex<Int32>
    private let directory: DirectoryHandle
    private let name: [UInt8]
    private let shared: Bool

    private init(fd: Int32, directory: DirectoryHandle, name: [UInt8], shared: Bool) {
        self.descriptor = Mutex(fd)
        self.directory = directory
        self.name = name
        self.shared = shared
    }

    deinit { release() }

    /// Takes the lock on file `name` of `directory` (made, mode 0600, when missing), waiting
    /// for it as long as someone else holds it. Blocks: call it off the concurrency pool.
    public static func acquire(_ name: [UInt8], in directory: DirectoryHandle, shared: Bool = false) throws -> FileLock {
        while true {
            if let lock = try take(name, in: directory, wait: true, shared: shared) { return lock }
        }
    }

    /// Takes the lock on file `name` of `directory` when nobody else holds it; nil at once when
    /// someone does.
    public static func attempt(_ name: [UInt8], in directory: DirectoryHandle, shared: Bool = false) throws -> FileLock? {
        while true {
            do {
                if let lock = try take(name, in: directory, wait: false, shared: shared) { return lock }
            } catch let error as SystemCallError where error.errno == EAGAIN || error.errno == EACCES {
                return nil
            }
        }
    }

    /// The lock, or nil when the file locked was removed by a holder releasing it meanwhile
    /// (the caller takes the new file).
    private static func take(_ name: [UInt8], in directory: DirectoryHandle, wait: Bool, shared: Bool) throws -> FileLock? {
        let fd = try open(name, in: directory, flags: O_RDWR | O_CREAT)
        guard mbctl_lock_file(fd, wait ? 1 : 0, shared ? 1 : 0) == 0 else {
            let code = errno
            close(fd)
            throw SystemCallError(operation: "lock", errno: code)
        }
        var locked = stat()
        guard fstat(fd, &locked) == 0 else {
            let code = errno
            close(fd)
            throw SystemCallError(operation: "stat lock file", errno: code)
        }
        if let current = try directory.status(of: name), current.st_dev == locked.st_dev, current.st_ino == locked.st_ino {
            return FileLock(fd: fd, directory: directory, name: name, shared: shared)
        }
        close(fd)
        return nil
    }

    /// Whether someone holds the lock on file `name` of `directory` now (false when there is no
    /// such file). Does not take it, so it never gets in a holder's way.
    public static func isHeld(_ name: [UInt8], in directory: DirectoryHandle) throws -> Bool {
        let fd: Int32
        do {
            fd = try open(name, in: directory, flags: O_RDONLY)
        } catch let error as SystemCallError where error.errno == ENOENT {
            return false
        }
        defer { close(fd) }
        let held = mbctl_file_is_locked(fd)
        guard held >= 0 else { throw SystemCallError(operation: "test lock", errno: errno) }
        return held == 1
    }

    /// Replaces the file's note.
    public func write(note: String) throws {
        try descriptor.withLock { fd in
            guard fd >= 0 else { throw SystemCallError(operation: "write a released lock file", errno: EBADF) }
            guard ftruncate(fd, 0) == 0 else { throw SystemCallError(operation: "truncate lock file", errno: errno) }
            try FileDescriptor.writeAll(fd, Array(note.utf8), at: 0)
        }
    }

    /// Removes the lock file and lets go of the lock.
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            if !shared { try? directory.remove(name) }
            close(fd)
            fd = -1
        }
    }

    private static func open(_ name: [UInt8], in directory: DirectoryHandle, flags: Int32) throws -> Int32 {
        let fd = withCPath(name) { openat(directory.fd, $0, flags | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw SystemCallError(operation: "open lock file", errno: errno) }
        return fd
    }
}
