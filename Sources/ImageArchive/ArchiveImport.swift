import Foundation
import OCILayout
import SystemErrors
import BlockingWork

/// What an image archive holds, after the one pass that put its blobs into a content store.
struct ArchiveContents {
    /// `index.json` (OCI layouts, and docker save from Docker 25 on).
    var index: Data?
    /// `manifest.json` of `docker save`.
    var dockerManifest: Data?
    /// Other files (a legacy docker archive's configs and `layer.tar`s), by path, stored by their digest.
    var files: [String: Descriptor] = [:]
    /// Symlinks between files (docker save links identical layers), by path.
    var links: [String: String] = [:]

    /// The descriptor of file `path`, following links inside the archive.
    func file(_ path: String) -> Descriptor? {
        var current = ArchiveImport.clean(path) ?? path
        for _ in 0..<16 {
            if let found = files[current] { return found }
            guard let target = links[current] else { return nil }
            current = target
        }
        return nil
    }
}

/// Reads an image archive (a tar of an OCI layout, or what `docker save` writes; either may be
/// gzipped) in one streaming pass, straight into a ``ContentStore``: no temporary directory,
/// and every blob verified against its digest on the way in, so a later pull of the same image
/// finds its blobs already there.
enum ArchiveImport {
    static let documentLimit = DocumentLimits.manifest

    static func ingest(_ path: String, into store: ContentStore, cancellation: CancellationFlag? = nil) throws -> ArchiveContents {
        let reader = try TarArchiveReader(path: path)
        var contents = ArchiveContents()
        var sawEntry = false
        while let entry = try reader.next() {
            try cancellation?.check()
            sawEntry = true
            func fail(_ reason: String) -> ArchiveError { .invalidArchiveEntry(path: path, entry: entry.name, reason: reason) }
            guard let name = clean(entry.name) else { throw fail("a path that leaves the archive (absolute, or with ..)") }
            if name.isEmpty || entry.kind == .directory { continue }
            let isBlob = name.hasPrefix("blobs/sha256/")
            switch entry.kind {
            case .symlink, .hardlink:
                guard !isBlob, !["index.json", "manifest.json", "oci-layout"].contains(name) else {
                    throw fail("a link where a blob or an index should be")
                }
                let base = entry.kind == .symlink ? (name as NSString).deletingLastPathComponent : ""
                guard !entry.linkName.hasPrefix("/"), let target = clean(base.isEmpty ? entry.linkName : base + "/" + entry.linkName, resolvingParents: true)
                else {
                    throw fail("a link that leaves the archive")
                }
                contents.links[name] = target
                continue
            case .other:
                continue
            case .regular, .directory:
                break
            }
            switch name {
            case "index.json": contents.index = try reader.readAll(entry, limit: documentLimit)
            case "manifest.json": contents.dockerManifest = try reader.readAll(entry, limit: documentLimit)
            case "oci-layout", "repositories": _ = try reader.readAll(entry, limit: documentLimit)
            default:
                if isBlob {
                    let hex = String(name.dropFirst("blobs/sha256/".count))
                    guard let digest = try? Digest(parsing: "sha256:" + hex) else { throw fail("not a blob name (sha256 and 64 hex digits)") }
                    guard entry.size <= Descriptor.largestSize else { throw fail("\(entry.size) bytes, more than any blob mbctl takes") }
                    try ingestBlob(
                        Descriptor(mediaType: "application/octet-stream", digest: digest, size: entry.size), from: reader, into: store, archive: path,
                        entry: entry.name, cancellation: cancellation)
                } else {
                    contents.files[name] = try store.ingestComputingDigest(mediaType: "application/octet-stream") { try reader.read(into: $0) }
                }
            }
        }
        guard sawEntry else { throw ArchiveError.invalidArchive(path: path, reason: "it is empty or not a tar archive") }
        return contents
    }

    private static func ingestBlob(
        _ descriptor: Descriptor, from reader: TarArchiveReader, into store: ContentStore, archive: String, entry: String, cancellation: CancellationFlag?
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        do {
            try store.ingestWhole(descriptor) { ingest in
                while true {
                    try cancellation?.check()
                    let got = try reader.read(into: buffer)
                    if got == 0 { break }
                    try ingest.append(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                }
            }
        } catch let error as OCILayoutError {
            switch error {
            case .digestMismatch, .sizeMismatch:
                throw ArchiveError.damagedEntry(path: archive, entry: entry, cause: ErrorCause(error))
            default:
                throw error
            }
        }
    }

    /// A relative archive path with `.` removed; nil when it is absolute or has `..` (or, with
    /// `resolvingParents`, when a `..` would climb above the archive's top).
    static func clean(_ path: String, resolvingParents: Bool = false) -> String? {
        guard !path.hasPrefix("/") else { return nil }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                guard resolvingParents, !parts.isEmpty else { return nil }
                parts.removeLast()
                continue
            }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }
}
