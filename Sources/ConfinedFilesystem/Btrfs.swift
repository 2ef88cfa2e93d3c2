import CLinuxSystem
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// btrfs subvolumes and reflinks, for cheap copies of image trees: a snapshot of a subvolume
/// shares every extent until one side writes, and a reflink does the same for one file.
public enum Btrfs {
    /// The inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID).
    static let subvolumeRootInode: UInt64 = 256

    /// Whether `directory` is on btrfs.
    public static func holds(_ directory: DirectoryHandle) -> Bool {
        mbctl_is_btrfs(directory.fd) == 1
    }

    /// Whether `directory` is the root of a btrfs subvolume.
    public static func isSubvolume(_ directory: DirectoryHandle) -> Bool {
        guard holds(directory), let info = try? directory.status() else { return false }
        return UInt64(info.st_ino) == subvolumeRootInode
    }

    /// Creates subvolume `name` in `parent`.
    public static func createSubvolume(_ name: [UInt8], in parent: DirectoryHandle) throws {
        let result = withCPath(name) { mbctl_btrfs_create_subvolume(parent.fd, $0) }
        guard result == 0 else { throw SystemCallError(operation: "create btrfs subvolume", errno: errno) }
    }

    /// Snapshots subvolume `source` as `name` in `parent`, writable unless `readOnly`.
    public static func snapshot(_ source: DirectoryHandle, as name: [UInt8], in parent: DirectoryHandle, readOnly: Bool) throws {
        let result = withCPath(name) { mbctl_btrfs_snapshot(source.fd, parent.fd, $0, readOnly ? 1 : 0) }
        guard result == 0 else { throw SystemCallError(operation: "snapshot btrfs subvolume", errno: errno) }
    }

    /// Makes subvolume `directory` read-only.
    public static func makeReadOnly(_ directory: DirectoryHandle) throws {
        guard mbctl_btrfs_set_read_only(directory.fd) == 0 else { throw SystemCallError(operation: "make btrfs subvolume read-only", errno: errno) }
    }

    /// Deletes subvolume `name` of `parent` in one step; false when btrfs would not (another
    /// subvolume inside it, not permitted), and the caller removes it file by file.
    static func destroySubvolume(_ name: [UInt8], in parent: DirectoryHandle) -> Bool {
        withCPath(name) { mbctl_btrfs_destroy_subvolume(parent.fd, $0) } == 0
    }

}

/// Files that share their data (FICLONE): btrfs, and xfs made with reflink=1.
public enum Reflink {
    /// Makes the open file `destination` share all of `source`'s data; false where the file
    /// system cannot (and nothing was done).
    public static func clone(_ destination: Int32, from source: Int32) -> Bool {
        mbctl_clone_file(destination, source) == 0
    }
}
