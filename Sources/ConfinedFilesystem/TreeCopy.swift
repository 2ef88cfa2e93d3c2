import CLinuxSystem
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// Copies the contents of a directory of an image's rootfs into a directory of the host: the
/// seed data of a machine's volume (``Mode/seed``), or a whole image tree into a machine's new
/// rootfs (``Mode/clone``).
///
/// Both sides are reached only through directory handles, so neither the image's symlinks nor
/// anything already in the destination can send a write elsewhere: every entry is created with
/// `*at` calls relative to its parent and never followed; symlinks are copied as symlinks. What
/// the destination holds already is kept (the user's files win), and a directory there is
/// descended into only if it is a real one.
///
/// The copy takes no more disk than the image does: holes of sparse files stay holes
/// (`SEEK_DATA`/`SEEK_HOLE`, data moved with `copy_file_range`, which shares extents where the
/// filesystem can), and files hardlinked to each other inside the tree stay one file. Owners,
/// modes, xattrs and times are those the unpacker gave the source. Devices, FIFOs and sockets
/// are no seed data and are skipped; a clone makes devices and FIFOs too, and shares each
/// file's data with the source where the file system can (a reflink: FICLONE).
public struct TreeCopy {
    public enum Mode: Sendable {
        /// Seed data: devices, FIFOs and sockets are left out.
        case seed
        /// A whole tree: everything but sockets, files as reflinks where possible.
        case clone
    }

    /// Told of every entry the copy makes inside a directory that existed before, so that undoing
    /// the copy removes exactly those (entries made inside a new directory go with it).
    public typealias Created = (_ parent: DirectoryHandle, _ name: [UInt8]) -> Void

    /// What a copy made.
    public struct Statistics: Sendable, Equatable {
        public var directories = 0
        public var files = 0
        public var symlinks = 0
        public var hardlinks = 0
        /// Bytes of file data copied (holes not counted).
        public var bytes: Int64 = 0
        /// Files whose data is shared with the source (reflinks) rather than copied.
        public var reflinked = 0
        /// Devices and FIFOs made (clones only).
        public var nodes = 0
        /// Entries left alone because the destination had them already.
        public var kept = 0
        /// Devices, FIFOs and sockets, which are not copied.
        public var skipped = 0

        public init() {}

        /// Adds up the copies of several trees.
        public mutating func add(_ other: Statistics) {
            directories += other.directories
            files += other.files
            symlinks += other.symlinks
            hardlinks += other.hardlinks
            bytes += other.bytes
            kept += other.kept
            skipped += other.skipped
            reflinked += other.reflinked
            nodes += other.nodes
        }
    }

    private let destinationRoot: DirectoryHandle
    private let created: Created
    private let mode: Mode
    private var statistics = Statistics()
    /// The first copy of each multiply-linked source file, by (device, inode): later links to
    /// it become hardlinks to that copy.
    private var firstCopies: [FileIdentity: EntryPath] = [:]

    private struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// Copies what `source` holds into `destination`. `source` may be an `O_PATH` handle.
    public static func copyContents(
        of source: DirectoryHandle, into destination: DirectoryHandle, mode: Mode = .seed, created: @escaping Created
    ) throws -> Statistics {
        var copy = TreeCopy(destinationRoot: destination, created: created, mode: mode)
        try copy.copyEntries(of: source, into: destination, at: EntryPath(components: []), destinationIsNew: false)
        return copy.statistics
    }

    /// Gives `destination` the owner, mode, xattrs and times of `source` (both real directories).
    public static func copyAttributes(of source: DirectoryHandle, to destination: DirectoryHandle) throws {
        let readable = openat(source.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard readable >= 0 else { throw SystemCallError(operation: "open", errno: errno) }
        defer { close(readable) }
        var info = stat()
        guard fstat(readable, &info) == 0 else { throw SystemCallError(operation: "stat", errno: errno) }
        try copyAttributes(info, from: readable, to: destination.fd)
    }

    private init(destinationRoot: DirectoryHandle, created: @escaping Created, mode: Mode) {
        self.destinationRoot = destinationRoot
        self.created = created
        self.mode = mode
    }

    private mutating func copyEntries(of source: DirectoryHandle, into destination: DirectoryHandle, at path: EntryPath, destinationIsNew: Bool) throws {
        for name in try source.entries() {
            guard let info = try source.status(of: name) else { continue }
            let existing = try destination.status(of: name)
            let childPath = path.appending(name)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try copyDirectory(name, info, existing: existing, from: source, into: destination, at: childPath, destinationIsNew: destinationIsNew)
            case S_IFREG:
                guard existing == nil else { statistics.kept += 1; continue }
                try copyFile(name, info, from: source, into: destination, at: childPath)
                if !destinationIsNew { created(destination, name) }
            case S_IFLNK:
                guard existing == nil else { statistics.kept += 1; continue }
                try copySymlink(name, info, from: source, into: destination)
                if !destinationIsNew { created(destination, name) }
            case S_IFCHR, S_IFBLK, S_IFIFO:
                // A `where` would bind to the last pattern only: decide here.
                guard mode == .clone else { statistics.skipped += 1; continue }
                guard existing == nil else { statistics.kept += 1; continue }
                try copyNode(name, info, into: destination)
                if !destinationIsNew { created(destination, name) }
            default:
                statistics.skipped += 1
            }
        }
    }

    private mutating func copyDirectory(
        _ name: [UInt8], _ info: stat, existing: stat?, from source: DirectoryHandle, into destination: DirectoryHandle,
        at path: EntryPath, destinationIsNew: Bool
    ) throws {
        if let existing, (existing.st_mode & S_IFMT) != S_IFDIR {
            statistics.kept += 1
            return
        }
        let made = existing == nil
        if made {
            try destination.makeDirectory(name, mode: 0o700)
            if !destinationIsNew { created(destination, name) }
            statistics.directories += 1
        }
        let sourceChild = withCPath(name) { openat(source.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard sourceChild >= 0 else { throw SystemCallError(operation: "open \(path.display) in the image", errno: errno) }
        let sourceDirectory = DirectoryHandle(fd: sourceChild)
        let destinationDirectory = try destination.openDirectory(name)
        try copyEntries(of: sourceDirectory, into: destinationDirectory, at: path, destinationIsNew: destinationIsNew || made)
        // After the contents, so that creating them does not change the copied times.
        if made { try Self.copyAttributes(info, from: sourceDirectory.fd, to: destinationDirectory.fd) }
    }

    private mutating func copyFile(_ name: [UInt8], _ info: stat, from source: DirectoryHandle, into destination: DirectoryHandle, at path: EntryPath) throws {
        let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        if info.st_nlink > 1, let first = firstCopies[identity], try link(first, as: name, in: destination) {
            statistics.hardlinks += 1
            return
        }
        let input = withCPath(name) { openat(source.fd, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        guard input >= 0 else { throw SystemCallError(operation: "open \(path.display) in the image", errno: errno) }
        defer { close(input) }
        var opened = stat()
        guard fstat(input, &opened) == 0 else { throw SystemCallError(operation: "stat \(path.display) in the image", errno: errno) }
        guard (opened.st_mode & S_IFMT) == S_IFREG else {
            throw UnexpectedFileKind(path: nil, mode: opened.st_mode, expected: S_IFREG, advice: "\(path.display) in the image changed while it was copied")
        }
        let output = withCPath(name) { openat(destination.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard output >= 0 else { throw SystemCallError(operation: "create \(path.display)", errno: errno) }
        defer { close(output) }
        if mode == .clone, opened.st_size > 0, Reflink.clone(output, from: input) {
            statistics.reflinked += 1
        } else {
            statistics.bytes += try Self.copyData(from: input, to: output, size: Int64(opened.st_size))
        }
        try Self.copyAttributes(opened, from: input, to: output)
        statistics.files += 1
        if info.st_nlink > 1 { firstCopies[identity] = path }
    }

    /// Links the copy at `first` (relative to the destination root) as `name`; false when the
    /// filesystem will not (too many links), and the file is then copied instead.
    private func link(_ first: EntryPath, as name: [UInt8], in destination: DirectoryHandle) throws -> Bool {
        let parent = try destinationRoot.openBeneath(first.parent)
        let result = withCPath(first.name) { firstName in withCPath(name) { linkat(parent.fd, firstName, destination.fd, $0, 0) } }
        if result == 0 { return true }
        if errno == EMLINK { return false }
        throw SystemCallError(operation: "hardlink \(first.display)", errno: errno)
    }

    private mutating func copySymlink(_ name: [UInt8], _ info: stat, from source: DirectoryHandle, into destination: DirectoryHandle) throws {
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = withCPath(name) { readlinkat(source.fd, $0, &target, target.count - 1) }
        guard length >= 0 else { throw SystemCallError(operation: "read symlink", errno: errno) }
        try destination.makeSymlink(name, to: target[0..<length].map { UInt8(bitPattern: $0) })
        let owned = withCPath(name) { fchownat(destination.fd, $0, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) }
        guard owned == 0 else { throw SystemCallError(operation: "chown symlink", errno: errno) }
        var times = [info.st_atim, info.st_mtim]
        let timed = withCPath(name) { utimensat(destination.fd, $0, &times, AT_SYMLINK_NOFOLLOW) }
        guard timed == 0 else { throw SystemCallError(operation: "set times", errno: errno) }
        statistics.symlinks += 1
    }

    /// A device node or FIFO, with its owner, mode and times (no data, no xattrs to speak of).
    private mutating func copyNode(_ name: [UInt8], _ info: stat, into destination: DirectoryHandle) throws {
        let made = withCPath(name) { mknodat(destination.fd, $0, info.st_mode & (S_IFMT | 0o777), info.st_rdev) }
        guard made == 0 else { throw SystemCallError(operation: "make device node", errno: errno) }
        let owned = withCPath(name) { fchownat(destination.fd, $0, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) }
        guard owned == 0 else { throw SystemCallError(operation: "chown", errno: errno) }
        // Made here just now by mknodat: following it is not a concern.
        let moded = withCPath(name) { fchmodat(destination.fd, $0, info.st_mode & 0o7777, 0) }
        guard moded == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
        var times = [info.st_atim, info.st_mtim]
        let timed = withCPath(name) { utimensat(destination.fd, $0, &times, AT_SYMLINK_NOFOLLOW) }
        guard timed == 0 else { throw SystemCallError(operation: "set times", errno: errno) }
        statistics.nodes += 1
    }

    // MARK: Data and attributes

    /// Copies the data regions of `input` (its first `size` bytes) and leaves its holes as holes.
    /// Returns the bytes copied.
    static func copyData(from input: Int32, to output: Int32, size: Int64) throws -> Int64 {
        var offset: Int64 = 0
        var copied: Int64 = 0
        while offset < size {
            var dataStart = Int64(lseek(input, off_t(offset), MBCTL_SEEK_DATA))
            var holeStart = size
            if dataStart < 0 {
                if errno == ENXIO { break }  // only a hole is left
                // No hole support here: everything is data.
                dataStart = offset
            } else {
                let hole = Int64(lseek(input, off_t(dataStart), MBCTL_SEEK_HOLE))
                holeStart = hole < 0 ? size : min(hole, size)
            }
            guard dataStart < holeStart else { break }
            copied += try copyRange(from: input, to: output, start: dataStart, count: holeStart - dataStart)
            offset = holeStart
        }
        guard ftruncate(output, off_t(size)) == 0 else { throw SystemCallError(operation: "truncate", errno: errno) }
        return copied
    }

    /// Copies `count` bytes at `start` in kernel (`copy_file_range`), or by reading and writing
    /// where the kernel cannot. Stops early only if the input is shorter than it said.
    private static func copyRange(from input: Int32, to output: Int32, start: Int64, count: Int64) throws -> Int64 {
        var inputOffset = start, outputOffset = start
        let end = start + count
        while inputOffset < end {
            let copied = mbctl_copy_file_range(input, &inputOffset, output, &outputOffset, Int(min(end - inputOffset, 1 << 30)))
            if copied > 0 { continue }
            if copied == 0 { return inputOffset - start }
            if errno == EINTR { continue }
            guard [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EPERM].contains(errno) else { throw SystemCallError(operation: "copy data", errno: errno) }
            return inputOffset - start + (try readAndWrite(from: input, to: output, start: inputOffset, count: end - inputOffset))
        }
        return count
    }

    private static func readAndWrite(from input: Int32, to output: Int32, start: Int64, count: Int64) throws -> Int64 {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var done: Int64 = 0
        while done < count {
            let got = pread(input, &buffer, Int(min(Int64(buffer.count), count - done)), off_t(start + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(operation: "read", errno: errno)
            }
            if got == 0 { break }
            try buffer.withUnsafeBytes { try FileDescriptor.writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<got]), at: start + done) }
            done += Int64(got)
        }
        return done
    }

    /// Owner, then mode (a chown clears setuid), then xattrs (a chown clears
    /// `security.capability`), then times, from open `input` to open `output`.
    static func copyAttributes(_ info: stat, from input: Int32, to output: Int32) throws {
        guard fchown(output, info.st_uid, info.st_gid) == 0 else { throw SystemCallError(operation: "chown", errno: errno) }
        guard fchmod(output, info.st_mode & 0o7777) == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
        try copyExtendedAttributes(from: input, to: output)
        var times = [info.st_atim, info.st_mtim]
        guard futimens(output, &times) == 0 else { throw SystemCallError(operation: "set times", errno: errno) }
    }

    private static func copyExtendedAttributes(from input: Int32, to output: Int32) throws {
        let listSize = flistxattr(input, nil, 0)
        if listSize < 0 {
            if errno == ENOTSUP || errno == EOPNOTSUPP { return }
            throw SystemCallError(operation: "list xattrs", errno: errno)
        }
        guard listSize > 0 else { return }
        var list = [CChar](repeating: 0, count: listSize)
        let listed = flistxattr(input, &list, list.count)
        guard listed >= 0 else { throw SystemCallError(operation: "list xattrs", errno: errno) }
        let names = list[0..<min(listed, list.count)].split(separator: 0).map { Array($0) + [0] }
        for name in names {
            let size = fgetxattr(input, name, nil, 0)
            guard size >= 0 else { throw SystemCallError(operation: "read xattr", errno: errno) }
            var value = [UInt8](repeating: 0, count: size)
            let got = fgetxattr(input, name, &value, value.count)
            guard got >= 0 else { throw SystemCallError(operation: "read xattr", errno: errno) }
            let result = fsetxattr(output, name, value, min(got, value.count), 0)
            if result != 0 && errno != ENOTSUP && errno != EOPNOTSUPP {
                throw SystemCallError(operation: "set xattr \(String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))", errno: errno)
            }
        }
    }
}
