import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// What a tar entry says about ownership, permissions, times and extended attributes.
struct EntryMetadata {
    var uid: uid_t
    var gid: gid_t
    /// Permission bits including setuid, setgid and sticky.
    var permissions: mode_t
    var accessTime: timespec
    var modificationTime: timespec
    var xattrs: [(name: [UInt8], value: [UInt8])]

    init(_ entry: OpaquePointer) {
        uid = uid_t(truncatingIfNeeded: archive_entry_uid(entry))
        gid = gid_t(truncatingIfNeeded: archive_entry_gid(entry))
        permissions = mode_t(archive_entry_perm(entry)) & 0o7777
        modificationTime = timespec(tv_sec: Int(archive_entry_mtime(entry)), tv_nsec: Int(archive_entry_mtime_nsec(entry)))
        accessTime =
            archive_entry_atime_is_set(entry) != 0
            ? timespec(tv_sec: Int(archive_entry_atime(entry)), tv_nsec: Int(archive_entry_atime_nsec(entry)))
            : modificationTime
        xattrs = []
        archive_entry_xattr_reset(entry)
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let nameBytes = Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            let valueBytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            xattrs.append((nameBytes, valueBytes))
        }
    }
}
