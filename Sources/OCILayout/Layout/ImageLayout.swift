import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemErrors

/// An OCI image layout directory (image-spec image-layout.md): `oci-layout`, `index.json` and
/// the blobs of a ``ContentStore``.
///
/// mbctl uses one as its download cache and writes one for `oci copy … oci:DIR`. `index.json`
/// is only ever replaced whole (temporary file and rename) under an exclusive lock on the
/// layout directory, so concurrent mbctl processes do not lose each other's tags.
public struct ImageLayout: Sendable {
    public let path: String
    public let store: ContentStore

    static let layoutVersion = "1.0.0"

    private init(path: String) {
        self.path = path
        self.store = ContentStore(root: path)
    }

    /// Opens the layout at `path`, creating an empty one (directory included) when absent.
    public static func openOrCreate(at path: String) throws -> ImageLayout {
        let layout = ImageLayout(path: path)
        try layout.store.prepare()
        try layout.withLock {
            if !DurableFile.exists(layout.layoutFilePath) {
                try DurableFile.replace(layout.layoutFilePath, with: Data("{\"imageLayoutVersion\":\"\(layoutVersion)\"}".utf8))
            }
            if !DurableFile.exists(layout.indexPath) {
                try layout.writeIndex(ImageIndex())
            }
        }
        return try open(at: path)
    }

    /// Opens an existing layout, checking its `oci-layout` marker.
    public static func open(at path: String) throws -> ImageLayout {
        let layout = ImageLayout(path: path)
        let marker: Data
        do {
            marker = try OpenFile(path: layout.layoutFilePath, flags: O_RDONLY | O_NOFOLLOW).read(upTo: 64 << 10)
        } catch {
            throw OCILayoutError.notALayout(path: path, reason: "no readable oci-layout file")
        }
        struct Marker: Decodable { let imageLayoutVersion: String }
        guard let version = try? JSONDecoder().decode(Marker.self, from: marker).imageLayoutVersion else {
            throw OCILayoutError.notALayout(path: path, reason: "oci-layout is not {\"imageLayoutVersion\": …}")
        }
        guard version.hasPrefix("1.") else {
            throw OCILayoutError.notALayout(path: path, reason: "unsupported imageLayoutVersion \(version)")
        }
        return layout
    }

    var layoutFilePath: String { "\(path)/oci-layout" }
    var indexPath: String { "\(path)/index.json" }

    /// The layout's `index.json`.
    public func index() throws -> ImageIndex {
        let data: Data
        do {
            let file = try OpenFile(path: indexPath, flags: O_RDONLY | O_NOFOLLOW)
            data = try file.read(upTo: Int(DocumentLimits.manifest) + 1)
        } catch let error as FilesystemError where error.errno == ENOENT {
            throw OCILayoutError.notALayout(path: path, reason: "index.json is missing")
        }
        guard Int64(data.count) <= DocumentLimits.manifest else {
            throw OCILayoutError.tooLarge(what: indexPath, size: Int64(data.count), limit: DocumentLimits.manifest)
        }
        return try JSONDecoder.decodeDocument(ImageIndex.self, from: data, what: indexPath)
    }

    /// The tags (`org.opencontainers.image.ref.name`) of the images in `index.json`.
    public func tags() throws -> [String] {
        try index().manifests.compactMap(\.referenceName)
    }

    /// Names `descriptor` (a manifest or index already in the store) `tag`, replacing whatever
    /// had that tag before.
    public func setTag(_ tag: String, to descriptor: Descriptor) throws {
        try withLock {
            var index = try self.index()
            var entry = descriptor
            var annotations = entry.annotations ?? [:]
            annotations[Descriptor.refNameAnnotation] = tag
            entry.annotations = annotations
            index.manifests.removeAll { $0.referenceName == tag }
            index.manifests.append(entry)
            try writeIndex(index)
        }
    }

    /// Keeps only the entries of `index.json` for which `keep` holds.
    public func removeEntries(keeping keep: (Descriptor) -> Bool) throws {
        try withLock {
            var index = try self.index()
            index.manifests.removeAll { !keep($0) }
            try writeIndex(index)
        }
    }

    /// The manifest named `tag`; with no tag, the only image of the layout (an error listing the
    /// tags when there are several).
    public func resolve(tag: String?) throws -> Descriptor {
        let manifests = try index().manifests
        if let tag {
            guard let found = manifests.last(where: { $0.referenceName == tag }) else {
                throw OCILayoutError.tagNotFound(tag, layout: path, available: manifests.compactMap(\.referenceName))
            }
            return found
        }
        guard manifests.count == 1, let only = manifests.first else {
            if manifests.isEmpty { throw OCILayoutError.tagNotFound("", layout: path, available: []) }
            throw OCILayoutError.ambiguousImage(layout: path, available: manifests.map { $0.referenceName ?? $0.digest.description })
        }
        return only
    }

    private func writeIndex(_ index: ImageIndex) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try DurableFile.replace(indexPath, with: try encoder.encode(index))
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let directory = try OpenFile(path: path, flags: O_RDONLY | O_DIRECTORY)
        try directory.lockExclusive()
        return try body()
    }
}
