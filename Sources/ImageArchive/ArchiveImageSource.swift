import Foundation
import OCILayout
import SystemErrors
import BlockingWork

/// An image in an archive file: `oci-archive:FILE[:TAG]` (a tar of an OCI image layout) or
/// `docker-archive:FILE[:REFERENCE]` (what `docker save` writes, legacy or Docker 25's OCI
/// flavour); either may be gzipped.
///
/// Opening it reads the archive once, putting every blob (verified) into `cache`; the source
/// then serves the chosen image from there.
public struct ArchiveImageSource: ImageSource {
    public enum Kind: Sendable {
        case oci, docker
    }

    public let path: String
    public let kind: Kind
    public let name: String?
    let cache: ContentStore
    let root: ManifestDocument

    public var displayName: String {
        (kind == .oci ? "oci-archive:" : "docker-archive:") + path + (name.map { ":\($0)" } ?? "")
    }

    /// Reads the archive at `path` into `cache` and chooses the image `name` (a tag of an OCI
    /// archive, a reference of a docker one); with no name, the archive must hold one image.
    /// Long: stops with `CancellationError` once `cancellation` is raised.
    public static func open(path: String, kind: Kind, name: String?, cache: ContentStore, cancellation: CancellationFlag? = nil) throws -> ArchiveImageSource {
        var status = stat()
        guard stat(path, &status) == 0 else { throw FilesystemError(path: path, operation: "open", errno: errno) }
        let contents = try ArchiveImport.ingest(path, into: cache, cancellation: cancellation)
        let display = (kind == .oci ? "oci-archive:" : "docker-archive:") + path
        let root: ManifestDocument
        if let index = contents.index {
            root = try chooseFromIndex(index, name: name, cache: cache, archive: path, display: display)
        } else if kind == .docker, let manifest = contents.dockerManifest {
            root = try chooseFromDockerManifest(manifest, name: name, contents: contents, cache: cache, archive: path)
        } else {
            throw ArchiveError.invalidArchive(
                path: path, reason: kind == .oci ? "no index.json: not an OCI archive" : "no manifest.json or index.json: not a docker archive")
        }
        return ArchiveImageSource(path: path, kind: kind, name: name, cache: cache, root: root)
    }

    public func rootManifest(progress: TransferEventHandler?) async throws -> ManifestDocument { root }

    public func manifest(_ descriptor: Descriptor, progress: TransferEventHandler?) async throws -> ManifestDocument {
        let data = try cache.read(descriptor, limit: DocumentLimits.manifest)
        return ManifestDocument(
            data: data, mediaType: try MediaType.ofManifest(data, declared: descriptor.mediaType, image: displayName), digest: descriptor.digest)
    }

    public func fetchBlob(_ descriptor: Descriptor, into store: ContentStore, progress: TransferEventHandler?) async throws {
        guard cache.contains(descriptor.digest) else {
            throw ArchiveError.invalidArchive(path: path, reason: "blob \(descriptor.digest) is missing from it")
        }
        if store.root == cache.root {
            progress?(.blobSkipped(descriptor))
            return
        }
        progress?(.blobStarted(descriptor, resumingAt: 0))
        try store.copy(descriptor, from: cache)
        progress?(.blobFinished(descriptor.digest))
    }

    // MARK: Choosing the image

    static func chooseFromIndex(_ data: Data, name: String?, cache: ContentStore, archive: String, display: String) throws -> ManifestDocument {
        let index = try JSONDecoder.decodeDocument(ImageIndex.self, from: data, what: "index.json of \(archive)")
        func names(_ descriptor: Descriptor) -> [String] {
            [descriptor.referenceName, descriptor.annotations?["io.containerd.image.name"]].compactMap { $0 }
        }
        let chosen: Descriptor
        if let name {
            let wanted = [name, name + ":latest", "docker.io/library/" + name, "docker.io/" + name, "docker.io/library/" + name + ":latest"]
            guard let found = index.manifests.last(where: { !Set(names($0)).isDisjoint(with: wanted) }) else {
                throw OCILayoutError.tagNotFound(name, layout: archive, available: index.manifests.flatMap(names))
            }
            chosen = found
        } else {
            guard index.manifests.count == 1, let only = index.manifests.first else {
                if index.manifests.isEmpty { throw ArchiveError.invalidArchive(path: archive, reason: "it holds no image") }
                throw OCILayoutError.ambiguousImage(layout: archive, available: index.manifests.map { names($0).first ?? $0.digest.description })
            }
            chosen = only
        }
        guard chosen.size <= DocumentLimits.manifest else {
            throw OCILayoutError.tooLarge(what: "manifest \(chosen.digest) of \(archive)", size: chosen.size, limit: DocumentLimits.manifest)
        }
        guard cache.contains(chosen.digest) else { throw ArchiveError.invalidArchive(path: archive, reason: "blob \(chosen.digest) is missing from it") }
        let manifest = try cache.read(chosen, limit: DocumentLimits.manifest)
        return ManifestDocument(
            data: manifest, mediaType: try MediaType.ofManifest(manifest, declared: chosen.mediaType, image: display), digest: chosen.digest)
    }

    /// A legacy `docker save` archive: `manifest.json` lists config and `layer.tar` paths, from
    /// which an OCI manifest is made (and stored, so the image can be tagged and reused).
    static func chooseFromDockerManifest(_ data: Data, name: String?, contents: ArchiveContents, cache: ContentStore, archive: String) throws
        -> ManifestDocument
    {
        struct Entry: Decodable {
            var Config: String
            var RepoTags: [String]?
            var Layers: [String]
        }
        let entries = try JSONDecoder.decodeDocument([Entry].self, from: data, what: "manifest.json of \(archive)")
        let chosen: Entry
        if let name {
            let wanted = [name, name + ":latest", "docker.io/library/" + name, "docker.io/" + name]
            guard let found = entries.first(where: { !Set($0.RepoTags ?? []).isDisjoint(with: wanted) }) else {
                throw OCILayoutError.tagNotFound(name, layout: archive, available: entries.flatMap { $0.RepoTags ?? [] })
            }
            chosen = found
        } else {
            guard entries.count == 1, let only = entries.first else {
                if entries.isEmpty { throw ArchiveError.invalidArchive(path: archive, reason: "it holds no image") }
                throw OCILayoutError.ambiguousImage(layout: archive, available: entries.map { $0.RepoTags?.first ?? $0.Config })
            }
            chosen = only
        }
        guard var config = contents.file(chosen.Config) else {
            throw ArchiveError.invalidArchiveEntry(path: archive, entry: chosen.Config, reason: "listed in manifest.json but missing")
        }
        config.mediaType = MediaType.dockerConfig
        let layers = try chosen.Layers.map { path -> Descriptor in
            guard var layer = contents.file(path) else {
                throw ArchiveError.invalidArchiveEntry(path: archive, entry: path, reason: "listed in manifest.json but missing")
            }
            layer.mediaType = try layerMediaType(of: layer, in: cache)
            return layer
        }
        let manifest = ImageManifest(
            mediaType: MediaType.ociManifest, config: Descriptor(mediaType: MediaType.ociConfig, digest: config.digest, size: config.size), layers: layers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = try encoder.encode(manifest)
        let descriptor = Descriptor(mediaType: MediaType.ociManifest, digest: .sha256(of: bytes), size: Int64(bytes.count))
        try cache.write(bytes, as: descriptor)
        return ManifestDocument(data: bytes, mediaType: MediaType.ociManifest, digest: descriptor.digest)
    }

    /// A docker archive's layer files are usually plain tars, sometimes compressed: look.
    static func layerMediaType(of layer: Descriptor, in cache: ContentStore) throws -> String {
        (LayerCompression.sniff(try cache.prefix(of: layer, count: 6)).0 ?? .none).ociMediaType
    }
}
