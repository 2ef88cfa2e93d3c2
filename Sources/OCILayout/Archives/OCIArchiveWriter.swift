import Foundation

/// Writes an `oci-archive`: a tar of an OCI image layout (`oci-layout`, `index.json`, the blobs)
/// holding one image, as skopeo writes one. The file appears only when complete (temporary name
/// and rename).
public enum OCIArchiveWriter {
    /// Writes the image `manifest` (already in `store` with all its blobs) to `path`, tagged `tag`.
    public static func write(_ manifest: Descriptor, tag: String, from store: ContentStore, to path: String) throws {
        let manifestData = try store.read(manifest, limit: DocumentLimits.manifest)
        var blobs = [manifest]
        if MediaType.indexTypes.contains(manifest.mediaType) {
            throw OCILayoutError.unsupportedManifest(image: path, mediaType: "an index (write one platform's manifest)")
        }
        let image = try JSONDecoder.decodeDocument(ImageManifest.self, from: manifestData, what: "manifest \(manifest.digest)")
        for blob in [image.config] + image.layers where !blobs.contains(where: { $0.digest == blob.digest }) {
            blobs.append(blob)
        }
        var entry = manifest
        entry.annotations = [Descriptor.refNameAnnotation: tag]
        entry.platform = manifest.platform
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let index = try encoder.encode(ImageIndex(manifests: [entry]))

        let temporary = path + ".mbctl-\(getpid())"
        do {
            let file = try OpenFile(path: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            let tar = TarWriter(file: file)
            try tar.add("oci-layout", Data("{\"imageLayoutVersion\":\"1.0.0\"}".utf8))
            try tar.add("index.json", index)
            try tar.addDirectory("blobs/")
            try tar.addDirectory("blobs/sha256/")
            for blob in blobs {
                let source = try OpenFile(path: store.path(of: blob.digest), flags: O_RDONLY | O_NOFOLLOW)
                try tar.add("blobs/sha256/\(blob.digest.encoded)", size: blob.size, from: source)
            }
            try tar.finish()
            try file.sync()
            try DurableFile.rename(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

/// A minimal ustar writer: regular files and directories with short names, mode 0644/0755,
/// owner 0, mtime 0 (reproducible archives).
final class TarWriter {
    private let file: OpenFile

    init(file: OpenFile) {
        self.file = file
    }

    func add(_ name: String, _ data: Data) throws {
        try header(name, size: Int64(data.count), type: UInt8(ascii: "0"), mode: 0o644)
        try data.withUnsafeBytes { try file.writeAll($0) }
        try pad(Int64(data.count))
    }

    func add(_ name: String, size: Int64, from source: OpenFile) throws {
        try header(name, size: size, type: UInt8(ascii: "0"), mode: 0o644)
        var written: Int64 = 0
        while written < size {
            let chunk = try source.read(upTo: Int(min(1 << 20, size - written)))
            guard !chunk.isEmpty else { throw OCILayoutError.invalidArchiveEntry(path: source.path, entry: name, reason: "the blob is shorter than its descriptor") }
            try chunk.withUnsafeBytes { try file.writeAll($0) }
            written += Int64(chunk.count)
        }
        try pad(size)
    }

    func addDirectory(_ name: String) throws {
        try header(name, size: 0, type: UInt8(ascii: "5"), mode: 0o755)
    }

    /// Two zero blocks end the archive.
    func finish() throws {
        try [UInt8](repeating: 0, count: 1024).withUnsafeBytes { try file.writeAll($0) }
    }

    private func header(_ name: String, size: Int64, type: UInt8, mode: Int) throws {
        var block = [UInt8](repeating: 0, count: 512)
        let nameBytes = Array(name.utf8)
        precondition(nameBytes.count <= 100, "archive names written here are short")
        block.replaceSubrange(0..<nameBytes.count, with: nameBytes)
        func octal(_ value: Int64, _ offset: Int, _ length: Int) {
            let text = Array(String(value, radix: 8).utf8)
            let padded = [UInt8](repeating: UInt8(ascii: "0"), count: max(0, length - 1 - text.count)) + text
            block.replaceSubrange(offset..<offset + padded.count, with: padded)
        }
        octal(Int64(mode), 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        if size < 0o77777777777 {
            octal(size, 124, 12)
        } else {
            // GNU base-256 for sizes of 8 GiB and more.
            block[124] = 0x80
            for index in 0..<8 { block[135 - index] = UInt8(truncatingIfNeeded: size >> (8 * index)) }
        }
        octal(0, 136, 12)
        block[156] = type
        block.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
        block.replaceSubrange(263..<265, with: Array("00".utf8))
        block.replaceSubrange(148..<156, with: [UInt8](repeating: 0x20, count: 8))
        let sum = block.reduce(0) { $0 + Int64($1) }
        octal(sum, 148, 7)
        block[154] = 0
        block[155] = 0x20
        try block.withUnsafeBytes { try file.writeAll($0) }
    }

    private func pad(_ size: Int64) throws {
        let padding = Int((512 - size % 512) % 512)
        if padding > 0 { try [UInt8](repeating: 0, count: padding).withUnsafeBytes { try file.writeAll($0) } }
    }
}
