#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// The directories mbctl keeps on the host (machines, configuration, data, the image cache),
/// opened, and made when missing, so that nobody else can slip a symlink or a directory of
/// their own in.
///
/// The path is the operator's, so its components are followed as they are, with one exception
/// that ssh's StrictModes makes too: below a world-writable directory (`/tmp`, `/var/tmp`), where
/// any local user may have made the next component first, a component must be a real directory
/// (not a symlink), owned by the user running mbctl, and not writable by group or others.
public enum HostDirectory {
    /// What ``open(_:mode:privacy:)`` found or did.
    public struct Opened {
        public let handle: DirectoryHandle
        /// Whether the directory itself was made now.
        public let created: Bool
        /// Whether its mode was narrowed to the one asked for.
        public let narrowed: Bool
    }

    /// What the last component must be.
    public enum Privacy {
        /// Any directory will do (after the checks below world-writable parents).
        case shared
        /// Owned by the user running mbctl, not a symlink, not writable by group or others (the
        /// image cache: whoever can write there chooses what root unpacks).
        case ownedByUser
        /// As `ownedByUser`, and a mode wider than the one asked for is narrowed to it (the
        /// machines directory: its rootfses hold the images' setuid files).
        case ownedByUserNarrowed
    }

    /// Opens the absolute directory `path`, making it with `mode` (and missing parents with 0755)
    /// when it is not there, unless `create` is false: then a missing directory is an error
    /// (`ENOENT`).
    public static func open(_ path: String, mode: mode_t, privacy: Privacy = .shared, create: Bool = true) throws -> Opened {
        guard path.hasPrefix("/") else { throw RefusedPath(path: path, reason: "not an absolute path") }
        let components = path.split(separator: "/").map { Array($0.utf8) }
        var current = try DirectoryHandle.open("/")
        var walked = ""
        var created = false
        for (index, component) in components.enumerated() {
            walked += "/" + String(decoding: component, as: UTF8.self)
            let isLast = index == components.count - 1
            let parentInfo = try naming(walked) { try current.status() }
            let parentIsOpenToAll = parentInfo.st_mode & S_IWOTH != 0
            let made = create ? try naming(walked) { try current.makeDirectoryIfMissingFollowing(component, mode: isLast ? mode : 0o755) } : false
            let strict = parentIsOpenToAll || (isLast && privacy != .shared)
            let fd = withCPath(component) { openat(current.fd, $0, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (strict ? O_NOFOLLOW : 0)) }
            guard fd >= 0 else {
                if strict && (errno == ELOOP || errno == ENOTDIR) {
                    throw RefusedPath(path: walked, reason: "is a symlink or not a directory; mbctl will not use it here (remove it, or choose another path)")
                }
                throw FilesystemError(path: walked, operation: "open directory", errno: errno)
            }
            current = DirectoryHandle(fd: fd)
            if made {
                // mkdir applies the umask; the mode asked for is what it must be.
                guard fchmod(fd, isLast ? mode : 0o755) == 0 else { throw FilesystemError(path: walked, operation: "chmod", errno: errno) }
            }
            if strict { try checkPrivate(current, walked) }
            if isLast { created = made }
        }
        var narrowed = false
        if privacy == .ownedByUserNarrowed, !created {
            let info = try naming(path) { try current.status() }
            if info.st_mode & 0o7777 & ~mode != 0 {
                guard fchmod(current.fd, mode) == 0 else { throw FilesystemError(path: path, operation: "chmod", errno: errno) }
                narrowed = true
            }
        }
        return Opened(handle: current, created: created, narrowed: narrowed)
    }

    private static func checkPrivate(_ directory: DirectoryHandle, _ path: String) throws {
        let info = try naming(path) { try directory.status() }
        guard info.st_uid == geteuid() else {
            throw RefusedPath(path: path, reason: "belongs to user \(info.st_uid), not to \(geteuid()) who runs mbctl; remove it or choose another path")
        }
        guard info.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            throw RefusedPath(
                path: path, reason: "is writable by group or others (mode \(String(info.st_mode & 0o7777, radix: 8))); make it 0700 or choose another path")
        }
    }
}

extension DirectoryHandle {
    /// `mkdirat`, where an existing entry of that name (of any kind) is left for the caller to open.
    fileprivate func makeDirectoryIfMissingFollowing(_ name: [UInt8], mode: mode_t) throws -> Bool {
        let result = withCPath(name) { mkdirat(fd, $0, mode) }
        if result == 0 { return true }
        guard errno == EEXIST else { throw SystemCallError(operation: "mkdir", errno: errno) }
        return false
    }
}
