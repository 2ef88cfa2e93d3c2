import ConfinedFilesystem
import CArchive
import CLinuxSystem
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// Applies the entries of one layer to the root (OCI image-spec layer.md, "Applying Changesets").
///
/// A later entry replaces what a path held: a directory over a directory keeps the contents and
/// takes the new attributes; anything else is removed and made anew. `.wh.NAME` deletes NAME,
/// `.wh..wh..opq` empties its directory of what lower layers put there (wherever the marker
/// stands in the tar, what this layer adds is kept). Directory attributes are applied when the
/// layer is done, after their contents, so that creating children does not undo their mtimes.
final class LayerApplication {
    let root: RootDirectory
    let layer: String
    let rootless: Bool
    /// Workers creating regular files; nil to create every file on this thread.
    let writers: FileWriterPool?
    private(set) var statistics = UnpackStatistics()
    private var skipped = SkipCounters()
    /// The parent directory of the previous entry: tars list a directory's files together, so
    /// most entries reuse it. Forgotten whenever something is removed.
    private var cachedParent: (path: EntryPath, handle: DirectoryHandle)?

    /// Paths this layer created, and every ancestor of them: what an opaque marker keeps. Kept
    /// as 128-bit keys rather than paths, so that memory stays small for a layer of hundreds of
    /// thousands of entries.
    private var added = Set<PathKey>()
    private var addedAncestors = Set<PathKey>()
    private var deferredDirectories: [(EntryPath, EntryMetadata)] = []
    /// Directories an opaque marker of this layer has cleared.
    private var clearedDirectories = Set<PathKey>()

    static let whiteoutPrefix: [UInt8] = Array(".wh.".utf8)
    static let opaqueMarker: [UInt8] = Array(".wh..wh..opq".utf8)

    init(root: RootDirectory, layer: String, rootless: Bool, writers: FileWriterPool?) {
        self.root = root
        self.layer = layer
        self.rootless = rootless
        self.writers = writers
    }

    /// Applies the current entry of `stream`.
    func apply(_ entry: OpaquePointer, from stream: LayerStream) throws {
        statistics.entries += 1
        let rawName = archive_entry_pathname(entry).map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? []
        let path = EntryPath(raw: rawName)
        do {
            try apply(entry, path: path, stream: stream)
        } catch let error as SystemCallError {
            throw UnpackError.entryFailed(layer: layer, entry: String(decoding: rawName, as: UTF8.self), cause: error)
        } catch let error as EntryError {
            throw UnpackError.invalidEntry(layer: layer, entry: String(decoding: rawName, as: UTF8.self), reason: error.reason)
        }
    }

    private struct EntryError: Error {
        let reason: String
    }

    private func apply(_ entry: OpaquePointer, path: EntryPath, stream: LayerStream) throws {
        let name = path.name
        if name.starts(with: Self.whiteoutPrefix) {
            statistics.whiteouts += 1
            // Deletions may reach anything below: let every pending file land first.
            try drainWriters()
            try applyWhiteout(name: name, in: path.parent)
            return
        }
        // A later entry for a path (or below it) comes after the earlier one's file exists.
        try writers?.waitFor(path)
        let metadata = EntryMetadata(entry)
        let type = mode_t(archive_entry_filetype(entry))
        if let target = archive_entry_hardlink(entry) {
            let targetPath = EntryPath(raw: Array(UnsafeRawBufferPointer(start: target, count: strlen(target))))
            try writers?.waitFor(targetPath)
            try makeHardlink(path, to: targetPath)
            record(path)
            return
        }
        if path.isRoot {
            guard type == S_IFDIR else { throw EntryError(reason: "a non-directory cannot replace the root") }
            deferredDirectories.append((path, metadata))
            return
        }
        let parent = try parentDirectory(of: path)
        let existing = try parent.status(of: name)
        if type == S_IFDIR {
            if let existing, (existing.st_mode & S_IFMT) == S_IFDIR {
                // A directory over a directory: contents stay, attributes are replaced (deferred).
            } else {
                if existing != nil { try remove(name, in: parent, isDirectory: false) }
                try parent.makeDirectory(name, mode: 0o700)
            }
            statistics.directories += 1
            deferredDirectories.append((path, metadata))
            record(path)
            return
        }
        if let existing { try remove(name, in: parent, isDirectory: (existing.st_mode & S_IFMT) == S_IFDIR) }
        switch type {
        case S_IFREG:
            try writeFile(path, in: parent, metadata: metadata, stream: stream, size: archive_entry_size(entry))
            statistics.regularFiles += 1
        case S_IFLNK:
            guard let target = archive_entry_symlink(entry) else { throw EntryError(reason: "symlink without a target") }
            let result = withCPath(name) { symlinkat(target, parent.fd, $0) }
            guard result == 0 else { throw SystemCallError(operation: "symlink", errno: errno) }
            try applyMetadata(metadata, to: name, in: parent, isSymlink: true)
            statistics.symlinks += 1
        case S_IFCHR, S_IFBLK, S_IFIFO:
            let device = mbctl_makedev(UInt32(archive_entry_rdevmajor(entry)), UInt32(archive_entry_rdevminor(entry)))
            let result = withCPath(name) { mknodat(parent.fd, $0, type | (metadata.permissions & 0o777), device) }
            if result != 0 {
                if rootless && (errno == EPERM || errno == EACCES) && type != S_IFIFO {
                    statistics.devicesSkipped += 1
                    return
                }
                throw SystemCallError(operation: "mknod", errno: errno)
            }
            try applyMetadata(metadata, to: name, in: parent, isSymlink: false)
            statistics.devices += 1
        case S_IFSOCK:
            throw EntryError(reason: "sockets cannot be stored in a layer")
        default:
            throw EntryError(reason: "unknown entry type \(String(type, radix: 8))")
        }
        record(path)
    }

    private func record(_ path: EntryPath) {
        added.insert(PathKey(path))
        var ancestor = path.parent
        while !ancestor.isRoot, addedAncestors.insert(PathKey(ancestor)).inserted {
            ancestor = ancestor.parent
        }
    }

    // MARK: Whiteouts

    private func applyWhiteout(name: [UInt8], in directory: EntryPath) throws {
        if name == Self.opaqueMarker {
            try clearOpaque(directory)
            return
        }
        let target = Array(name.dropFirst(Self.whiteoutPrefix.count))
        if target.starts(with: Self.whiteoutPrefix) {
            // Other `.wh..wh.*` names are AUFS bookkeeping (`.wh..wh.plnk`, …): not content.
            return
        }
        guard !target.isEmpty, target != [0x2E], target != [0x2E, 0x2E] else {
            throw EntryError(reason: "invalid whiteout name")
        }
        // Only "it is not there" is nothing to remove (umoci's rule): any other failure stops the layer.
        guard let parent = try Self.existingDirectory(directory, in: root) else { return }
        cachedParent = nil
        try parent.removeTree(target)
    }

    /// Removes from `directory` everything lower layers put there, keeping what this layer added
    /// (and the directories leading to it).
    ///
    /// Each directory is cleared once per layer: afterwards it holds only what this layer put
    /// there, so another marker in it (or in a directory below it) has nothing left to remove.

    /// Directory `path` of the root, or nil when it does not exist (or a lower layer left a file
    /// on the way to it, so nothing can be below it).
    static func existingDirectory(_ path: EntryPath, in root: RootDirectory) throws -> DirectoryHandle? {
        do {
            return try root.openDirectory(path)
        } catch let error as SystemCallError where error.errno == ENOENT || error.errno == ENOTDIR {
            return nil
        }
    }
    /// That keeps a layer of many markers linear instead of rescanning a large directory for each.
    private func clearOpaque(_ directory: EntryPath) throws {
        guard clearedDirectories.insert(PathKey(directory)).inserted else { return }
        guard let handle = try Self.existingDirectory(directory, in: root) else { return }
        cachedParent = nil
        for name in try handle.entries() {
            let child = directory.appending(name)
            let key = PathKey(child)
            guard let info = try handle.status(of: name) else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                if added.contains(key) || addedAncestors.contains(key) {
                    try clearOpaque(child)
                } else {
                    try handle.removeTree(name)
                }
            } else if !added.contains(key) {
                try handle.removeTree(name)
            }
        }
    }

    // MARK: Files and links

    private func writeFile(_ path: EntryPath, in parent: DirectoryHandle, metadata: EntryMetadata, stream: LayerStream, size: Int64) throws {
        guard size >= 0 else { throw EntryError(reason: "a negative size in its header") }
        statistics.count(bytes: size)
        if let writers, size <= Int64(writers.largestQueuedFile) {
            // Read the bytes now (the tar moves on) and let a worker create the file.
            var data = [UInt8](repeating: 0, count: Int(size))
            try stream.readData { bytes, offset in
                guard Self.fits(bytes.count, at: offset, in: size) else {
                    throw EntryError(reason: "data beyond the size in its header")
                }
                data.withUnsafeMutableBytes { buffer in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[Int(offset)..<Int(offset) + bytes.count]).copyMemory(from: bytes)
                }
            }
            try writers.submit(FileJob(path: path, parent: parent, data: data, metadata: metadata))
            return
        }
        try RegularFile.create(path.name, in: parent, metadata: metadata, rootless: rootless, counters: &skipped) { fd in
            var end: Int64 = 0
            try stream.readData { bytes, offset in
                // A sparse entry's map is the layer's: its offsets are checked like any number.
                guard Self.fits(bytes.count, at: offset, in: size) else {
                    throw EntryError(reason: "data beyond the size in its header")
                }
                try FileDescriptor.writeAll(fd, bytes, at: offset)
                end = max(end, offset + Int64(bytes.count))
            }
            if end < size {
                // A sparse file's trailing hole.
                guard ftruncate(fd, off_t(size)) == 0 else { throw SystemCallError(operation: "truncate", errno: errno) }
            }
        }
    }

    /// Whether `count` bytes at `offset` lie within a file of `size` bytes (no overflow possible).
    static func fits(_ count: Int, at offset: Int64, in size: Int64) -> Bool {
        offset >= 0 && offset <= size && Int64(count) <= size - offset
    }

    /// The directory `path` goes in, made when missing; reused from the previous entry when it
    /// is the same.
    private func parentDirectory(of path: EntryPath) throws -> DirectoryHandle {
        let parentPath = path.parent
        if let cachedParent, cachedParent.path == parentPath { return cachedParent.handle }
        let handle = try root.makeDirectories(parentPath)
        cachedParent = (parentPath, handle)
        return handle
    }

    /// Removes what is at `name` before something else takes its place. A directory may hold
    /// files still being written, so the workers finish first.
    private func remove(_ name: [UInt8], in parent: DirectoryHandle, isDirectory: Bool) throws {
        if isDirectory { try drainWriters() }
        cachedParent = nil
        try parent.removeTree(name)
    }

    private func drainWriters() throws {
        guard let writers else { return }
        let counters = try writers.drain()
        skipped.ownership += counters.ownership
        skipped.xattrs += counters.xattrs
    }

    private func makeHardlink(_ path: EntryPath, to target: EntryPath) throws {
        guard !path.isRoot, !target.isRoot else { throw EntryError(reason: "a hardlink cannot involve the root") }
        guard path != target else { throw EntryError(reason: "a hardlink to itself") }
        guard let targetParent = try? root.openDirectory(target.parent),
            let targetInfo = try targetParent.status(of: target.name)
        else {
            throw EntryError(reason: "hardlink target \(target.display) does not exist")
        }
        guard (targetInfo.st_mode & S_IFMT) != S_IFDIR else {
            throw EntryError(reason: "hardlink target \(target.display) is a directory")
        }
        let parent = try parentDirectory(of: path)
        if let existing = try parent.status(of: path.name) {
            try remove(path.name, in: parent, isDirectory: (existing.st_mode & S_IFMT) == S_IFDIR)
        }
        // Flags 0: a link to a symlink links the symlink itself, never what it points to.
        let result = withCPath(target.name) { targetName in
            withCPath(path.name) { linkat(targetParent.fd, targetName, parent.fd, $0, 0) }
        }
        guard result == 0 else { throw SystemCallError(operation: "hardlink", errno: errno) }
        statistics.hardlinks += 1
    }

    // MARK: Metadata

    /// Owner, mode, xattrs and times of a node that is not opened (symlink, device, FIFO), all
    /// relative to its parent and without following it.
    private func applyMetadata(_ metadata: EntryMetadata, to name: [UInt8], in parent: DirectoryHandle, isSymlink: Bool) throws {
        let owned = withCPath(name) { fchownat(parent.fd, $0, metadata.uid, metadata.gid, AT_SYMLINK_NOFOLLOW) }
        if owned != 0 {
            guard rootless && (errno == EPERM || errno == EINVAL) else { throw SystemCallError(operation: "chown", errno: errno) }
            skipped.ownership += 1
        }
        if !isSymlink {
            // The node was just made here by mknodat, so following is not a concern.
            let result = withCPath(name) { fchmodat(parent.fd, $0, metadata.permissions, 0) }
            guard result == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
        }
        let procPath = Array("/proc/self/fd/\(parent.fd)/".utf8) + name
        for xattr in metadata.xattrs {
            let result = withCPath(procPath) { path in withCPath(xattr.name) { lsetxattr(path, $0, xattr.value, xattr.value.count, 0) } }
            if result != 0 {
                guard rootless && (errno == EPERM || errno == EACCES) else {
                    throw SystemCallError(operation: "set xattr \(String(decoding: xattr.name, as: UTF8.self))", errno: errno)
                }
                skipped.xattrs += 1
            }
        }
        var times = [metadata.accessTime, metadata.modificationTime]
        let result = withCPath(name) { utimensat(parent.fd, $0, &times, AT_SYMLINK_NOFOLLOW) }
        guard result == 0 else { throw SystemCallError(operation: "set times", errno: errno) }
    }

    /// Applies the attributes of this layer's directories, deepest first, after all their contents.
    func finish() throws {
        try drainWriters()
        for (path, metadata) in deferredDirectories.reversed() {
            let fd = withCPath(path.relativeBytes) {
                mbctl_openat2(root.fd, $0, UInt64(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), 0, MBCTL_RESOLVE_IN_ROOT | MBCTL_RESOLVE_NO_MAGICLINKS)
            }
            // Gone (a later whiteout) or no longer a directory (a later entry replaced it by a file
            // or a symlink): skip. Any other failure is one.
            guard fd >= 0 else {
                guard errno == ENOENT || errno == ENOTDIR || errno == ELOOP else {
                    throw UnpackError.entryFailed(layer: layer, entry: path.display, cause: SystemCallError(operation: "open directory", errno: errno))
                }
                continue
            }
            defer { close(fd) }
            do {
                try RegularFile.applyAttributes(metadata, to: fd, rootless: rootless, counters: &skipped)
            } catch let error as SystemCallError {
                throw UnpackError.entryFailed(layer: layer, entry: path.display, cause: error)
            }
        }
        statistics.ownershipSkipped += skipped.ownership
        statistics.xattrsSkipped += skipped.xattrs
        skipped = SkipCounters()
    }
}

/// A path as two independent 64-bit hashes (seeded at random per process, so no layer can aim
/// for a collision): 16 bytes where the path's components would take a hundred and more.
struct PathKey: Hashable {
    let first: Int
    let second: Int

    init(_ path: EntryPath) {
        var first = Hasher(), second = Hasher()
        first.combine(path)
        second.combine(0x6D62_6374_6C00_0001 as UInt64)
        second.combine(path)
        self.first = first.finalize()
        self.second = second.finalize()
    }
}
