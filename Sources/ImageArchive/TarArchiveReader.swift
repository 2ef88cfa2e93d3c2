import CArchive
import Foundation
import OCILayout

/// A tar archive file, plain or gzipped, read entry by entry with libarchive, the same tar
/// parser the layers go through (and one fuzzed continuously upstream): image archives come
/// from anywhere, and one well-kept parser for untrusted tars is enough.
///
/// Only tar formats (ustar, PAX, GNU) and gzip are enabled, and gzip only when libarchive
/// inflates it itself, never through an external program.
final class TarArchiveReader {
    /// One entry, as its headers describe it.
    struct Entry {
        enum Kind {
            case regular, directory, symlink, hardlink, other
        }

        var name: String
        var kind: Kind
        /// Bytes of data (regular files only), never negative.
        var size: Int64
        var linkName: String
    }

    let path: String
    private let archive: OpaquePointer
    private var fd: Int32 = -1

    init(path: String) throws {
        guard let archive = archive_read_new() else {
            throw ArchiveError.invalidArchive(path: path, reason: "libarchive could not start")
        }
        self.archive = archive
        self.path = path
        // ARCHIVE_WARN from the gzip filter means it would run an external gzip: not accepted.
        guard archive_read_support_format_tar(archive) == ARCHIVE_OK,
            archive_read_support_filter_gzip(archive) == ARCHIVE_OK,
            archive_read_support_filter_none(archive) == ARCHIVE_OK
        else {
            throw ArchiveError.invalidArchive(path: path, reason: "libarchive cannot read tar and gzip here: \(message())")
        }
        // Opened here, so that a FIFO or a device is refused before libarchive reads (or waits).
        fd = try RegularFileOpening.open(path, flags: O_RDONLY)
        guard archive_read_open_fd(archive, fd, 1 << 20) == ARCHIVE_OK else {
            throw failure()
        }
    }

    deinit {
        archive_read_free(archive)
        if fd >= 0 { close(fd) }
    }

    /// The next entry, or nil at the end of the archive.
    func next() throws -> Entry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(archive, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else { throw failure() }
        guard let name = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry) else {
            throw ArchiveError.invalidArchive(path: path, reason: "it has an entry whose name cannot be read")
        }
        let kind: Entry.Kind
        if archive_entry_hardlink(entry) != nil {
            kind = .hardlink
        } else {
            switch mode_t(archive_entry_filetype(entry)) {
            case S_IFREG: kind = .regular
            case S_IFDIR: kind = .directory
            case S_IFLNK: kind = .symlink
            default: kind = .other
            }
        }
        let size = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : 0
        guard size >= 0 else {
            throw ArchiveError.invalidArchiveEntry(path: path, entry: String(cString: name), reason: "a negative size")
        }
        let link =
            kind == .hardlink
            ? archive_entry_hardlink_utf8(entry) ?? archive_entry_hardlink(entry)
            : kind == .symlink ? archive_entry_symlink_utf8(entry) ?? archive_entry_symlink(entry) : nil
        return Entry(name: String(cString: name), kind: kind, size: kind == .regular ? size : 0, linkName: link.map { String(cString: $0) } ?? "")
    }

    /// Reads the current entry's data, up to the buffer's size; 0 at its end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let got = archive_read_data(archive, base, buffer.count)
        guard got >= 0 else { throw failure() }
        return got
    }

    /// The whole current entry (`entry` as ``next()`` returned it), refusing more than `limit` bytes.
    func readAll(_ entry: Entry, limit: Int64) throws -> Data {
        guard entry.size <= limit else {
            throw ArchiveError.invalidArchiveEntry(path: path, entry: entry.name, reason: "\(entry.size) bytes, more than the limit of \(limit)")
        }
        var data = Data(count: Int(entry.size))
        var filled = 0
        try data.withUnsafeMutableBytes { buffer in
            while filled < buffer.count {
                let got = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                if got == 0 { break }
                filled += got
            }
        }
        guard filled == data.count else { throw ArchiveError.invalidArchive(path: path, reason: "it is truncated") }
        return data
    }

    private func message() -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    /// libarchive's error, said the way the rest of mbctl says it.
    private func failure() -> ArchiveError {
        let text = message()
        if text.lowercased().contains("truncated") || text.contains("Premature end") {
            return .invalidArchive(path: path, reason: "it is truncated (\(text))")
        }
        if [ENOENT, EACCES, EISDIR, ENOTDIR, ELOOP, EIO].contains(archive_errno(archive)) {
            return .invalidArchive(path: path, reason: "cannot read it: \(text)")
        }
        return .invalidArchive(path: path, reason: "it is damaged or not a tar archive (\(text))")
    }
}
