import ConfinedFilesystem
import Foundation
import OCILayout
import SystemErrors

/// The image cache (`/var/tmp/man8s`): an OCI image layout of every image pulled or imported.
///
/// It usually sits below world-writable `/var/tmp`, where any local user could have made it (or
/// a symlink by its name) before root's first pull, and whoever can write in it chooses what
/// root unpacks. So it is made 0700 by the user running mbctl, and refused when it is a symlink,
/// belongs to someone else, or is writable by group or others (see ``HostDirectory``).
public struct ImageCache: Sendable {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    /// The cache as an image layout, made when missing.
    public func open() throws -> ImageLayout {
        _ = try HostDirectory.open(absolutePath, mode: 0o700, privacy: .ownedByUser)
        return try ImageLayout.openOrCreate(at: absolutePath)
    }

    /// Empties the cache (blobs, partial downloads, tags) without following any symlink in it;
    /// returns how many entries it removed. Machines do not need it: their rootfses are copies.
    @discardableResult
    public func clear() throws -> Int {
        let directory: DirectoryHandle
        do {
            directory = try HostDirectory.open(absolutePath, mode: 0o700, privacy: .ownedByUser, create: false).handle
        } catch let error as FilesystemError where error.errno == ENOENT {
            return 0
        }
        let lock = try alone(directory)
        defer { lock.release() }
        let entries = try naming(absolutePath) { try directory.entries() }.filter { $0 != Self.lockName }
        for entry in entries {
            try naming("\(absolutePath)/\(String(decoding: entry, as: UTF8.self))") { try directory.removeTree(entry) }
        }
        return entries.count
    }

    var absolutePath: String { URL(fileURLWithPath: path).standardizedFileURL.path }
}
