import Foundation

/// Every image an index lists, as `oci copy --all` copies them.
public struct FetchedImageSet: Sendable {
    /// The document the name points at, stored byte for byte: the index (its digest is the
    /// image's identity, as `skopeo copy --all` keeps it), or the one manifest.
    public var root: Descriptor
    /// The manifests copied (the index's entries, with their platforms; or the one manifest).
    public var manifests: [Descriptor]
    /// Layers copied, over all manifests (each blob counted once).
    public var layerCount: Int
}

extension ImageFetcher {
    /// Copies the image `source` names with every platform it has: for an index, each manifest
    /// it lists (attestations included), its config and layers, then the index itself, byte for
    /// byte; a single manifest is copied whatever its platform. Every document is verified
    /// against its digest and read with its size limit; every manifest is stored only once its
    /// blobs are, and the index last.
    public func fetchEveryPlatform(from source: ImageSource, into store: ContentStore, progress: TransferEventHandler? = nil) async throws -> FetchedImageSet {
        let image = source.displayName
        let root = try await source.rootManifest(progress: progress)
        guard root.isIndex else {
            let layers = try await fetchContents(of: root, platform: nil, image: image, from: source, into: store, progress: progress)
            return FetchedImageSet(root: root.descriptor, manifests: [root.descriptor], layerCount: layers.count)
        }
        let manifests = try await platformManifests(of: root, from: source, progress: progress)
        var layers = Set<Digest>()
        for (entry, document) in manifests {
            for layer in try await fetchContents(of: document, platform: entry.platform, image: image, from: source, into: store, progress: progress) {
                layers.insert(layer.digest)
            }
        }
        try store.write(root.data, as: root.descriptor)
        return FetchedImageSet(root: root.descriptor, manifests: manifests.map(\.entry), layerCount: layers.count)
    }

    /// The manifests index `root` lists (within ``ImageGraph``'s limits), each fetched from
    /// `source` and verified against its entry's digest; an index among them is refused.
    public func platformManifests(
        of root: ManifestDocument, from source: ImageSource, progress: TransferEventHandler? = nil
    ) async throws -> [(entry: Descriptor, document: ManifestDocument)] {
        var found: [(entry: Descriptor, document: ManifestDocument)] = []
        for entry in try ImageGraph.manifests(of: root.data, what: "the index of \(source.displayName)") {
            let document = try await source.manifest(entry, progress: progress)
            try entry.digest.verify(document.data)
            guard !document.isIndex else {
                throw OCILayoutError.unsupportedManifest(image: source.displayName, mediaType: "an index inside an index")
            }
            found.append((entry, document))
        }
        return found
    }

    /// Fetches a manifest's config and layers, then stores the manifest; returns its layers.
    private func fetchContents(
        of document: ManifestDocument, platform: Platform?, image: String, from source: ImageSource, into store: ContentStore, progress: TransferEventHandler?
    ) async throws -> [Descriptor] {
        let manifest = try JSONDecoder.decodeDocument(ImageManifest.self, from: document.data, what: "manifest \(document.digest) of \(image)")
        guard manifest.config.size <= DocumentLimits.config else {
            throw OCILayoutError.tooLarge(what: "config \(manifest.config.digest) of \(image)", size: manifest.config.size, limit: DocumentLimits.config)
        }
        var descriptor = document.descriptor
        descriptor.platform = platform
        progress?(.resolved(image: image + (platform.map { " (\($0))" } ?? ""), manifest: descriptor, layers: manifest.layers))
        try await source.fetchBlob(manifest.config, into: store, progress: progress)
        try await fetchBlobs(manifest.layers, from: source, into: store, progress: progress)
        try store.write(document.data, as: document.descriptor)
        return manifest.layers
    }
}
