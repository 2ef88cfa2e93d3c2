import CArchive
import Foundation
import OCILayout

/// Writes an `oci-archive`: a tar of an OCI image layout (`oci-layout`, `index.json`, the blobs)
/// holding one image (one platform's, or every platform's under its index), as skopeo writes one. The file appears only when complete (temporary name
/// and rename). The tar is libarchive's ustar, reproducible: owner 0, mode 0644/0755, mtime 0.
public enum OCIArchiveWriter {
    /// Writes the image `manifest` (a manifest or an index, already in `store` with all its
    /// blobs) to `path`, tagged `tag`.
    public static func write(_ manifest: Descriptor, tag: String, from store: ContentStore, to path: String) throws {
        let blobs = try ImageGraph.blobs(reachableFrom: manifest, in: store)
        var entry = manifest
        entry.annotations = [Descriptor.refNameAnnotation: tag]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let index = try encoder.encode(ImageIndex(manifests: [entry]))

        let temporary = path + ".mbctl-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ArchiveError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        do {
            defer { close(fd) }
            let tar = try TarWriter(fd: fd, path: path)
            try tar.add("oci-layout", Data("{\"imageLayoutVersion\":\"1.0.0\"}".utf8))
            try tar.add("index.json", index)
            try tar.addDirectory("blobs/")
            try tar.addDirectory("blobs/sha256/")
            for blob in blobs {
                try tar.addFile("blobs/sha256/\(blob.digest.encoded)", size: blob.size, from: store.path(of: blob.digest))
            }
            try tar.finish()
            guard fsync(fd) == 0 else { throw ArchiveError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
            guard rename(temporary, path) == 0 else { throw ArchiveError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

/// libarchive's ustar writer on a file descriptor, for the few entries an oci-archive holds.
private final class TarWriter {
    private let archive: OpaquePointer
    private let path: String

    init(fd: Int32, path: String) throws {
        guard let archive = archive_write_new() else { throw ArchiveError.cannotWrite(path: path, reason: "libarchive could not start") }
        self.archive = archive
        self.path = path
        try check(archive_write_set_format_ustar(archive))
        try check(archive_write_add_filter_none(archive))
        try check(archive_write_open_fd(archive, fd))
    }

    deinit { archive_write_free(archive) }

    func add(_ name: String, _ data: Data) throws {
        try header(name, type: S_IFREG, size: Int64(data.count), mode: 0o644)
        try data.withUnsafeBytes { try write($0) }
    }

    func addDirectory(_ name: String) throws {
        try header(name, type: S_IFDIR, size: 0, mode: 0o755)
    }

    /// Copies the store's file `source` (exactly `size` bytes) into the archive.
    func addFile(_ name: String, size: Int64, from source: String) throws {
        let fd = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.cannotWrite(path: path, reason: "cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try header(name, type: S_IFREG, size: size, mode: 0o644)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var written: Int64 = 0
        while written < size {
            let got = read(fd, buffer.baseAddress, Int(min(Int64(buffer.count), size - written)))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw ArchiveError.cannotWrite(path: path, reason: "\(source) is shorter than its descriptor") }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            written += Int64(got)
        }
    }

    func finish() throws {
        try check(archive_write_close(archive))
    }

    private func header(_ name: String, type: mode_t, size: Int64, mode: mode_t) throws {
        guard let entry = archive_entry_new() else { throw ArchiveError.cannotWrite(path: path, reason: "libarchive could not make an entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, UInt32(type))
        archive_entry_set_perm(entry, mode)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, 0, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        try check(archive_write_header(archive, entry))
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = archive_write_data(archive, base + offset, bytes.count - offset)
            guard written > 0 else { throw failure() }
            offset += written
        }
    }

    private func check(_ status: Int32) throws {
        guard status == ARCHIVE_OK else { throw failure() }
    }

    private func failure() -> ArchiveError {
        .cannotWrite(path: path, reason: archive_error_string(archive).map { String(cString: $0) } ?? "libarchive failed")
    }
}
