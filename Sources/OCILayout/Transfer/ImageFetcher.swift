import Foundation

/// An image whose manifest, config and layers are all in a ``ContentStore``; or, as returned
/// by ``ImageFetcher/resolve(from:into:progress:)``, whose config is and whose layers are to come.
public struct FetchedImage: Sendable {
    /// The platform manifest, with its platform filled in when known.
    public var manifestDescriptor: Descriptor
    public var manifest: ImageManifest
    public var configuration: ImageConfiguration
    /// The manifest's bytes, stored once all its layers are.
    public var document: ManifestDocument
}

/// Copies one platform's image from any ``ImageSource`` into a ``ContentStore``.
///
/// It picks the manifest for the wanted platform out of an index, checks every document against
/// its descriptor and size limit, fetches the config and then the layers, `jobs` at a time and
/// in manifest order, and stores the manifest last, so a manifest in the store always has all
/// of its blobs. Blobs already in the store are not fetched again.
public struct ImageFetcher: Sendable {
    public var platform: Platform
    public var jobs: Int

    public init(platform: Platform = .host, jobs: Int = 4) {
        self.platform = platform
        self.jobs = jobs
    }

    public func fetch(from source: ImageSource, into store: ContentStore, progress: TransferEventHandler? = nil) async throws -> FetchedImage {
        let image = try await resolve(from: source, into: store, progress: progress)
        try await fetchLayers(of: image, from: source, into: store, progress: progress)
        return image
    }

    /// The first half of ``fetch(from:into:progress:)``: chooses the manifest and stores the config.
    /// The digest of the manifest ``resolve(from:into:progress:)`` would choose, from the root
    /// manifest alone (an index's entry for this platform): one manifest request, no blob. With
    /// `root`, the root manifest's own (what a copy of every platform keeps).
    public func manifestDigest(from source: ImageSource, root: Bool = false) async throws -> Digest {
        let document = try await source.rootManifest(progress: nil)
        guard document.isIndex, !root else { return document.digest }
        let index = try JSONDecoder.decodeDocument(ImageIndex.self, from: document.data, what: "the index of \(source.displayName)")
        guard let entry = platform.select(from: index.manifests) else {
            let available = index.manifests.compactMap(\.platform).filter { $0.os != "unknown" }.map(\.description)
            throw OCILayoutError.noMatchingPlatform(image: source.displayName, wanted: platform.description, available: available)
        }
        return entry.digest
    }

    public func resolve(from source: ImageSource, into store: ContentStore, progress: TransferEventHandler? = nil) async throws -> FetchedImage {
        let image = source.displayName
        var document = try await source.rootManifest(progress: progress)
        var chosenPlatform: Platform?
        if document.isIndex {
            let index = try JSONDecoder.decodeDocument(ImageIndex.self, from: document.data, what: "the index of \(image)")
            guard let entry = platform.select(from: index.manifests) else {
                let available = index.manifests.compactMap(\.platform).filter { $0.os != "unknown" }.map(\.description)
                throw OCILayoutError.noMatchingPlatform(image: image, wanted: platform.description, available: available)
            }
            guard entry.size <= DocumentLimits.manifest else {
                throw OCILayoutError.tooLarge(what: "manifest \(entry.digest) of \(image)", size: entry.size, limit: DocumentLimits.manifest)
            }
            document = try await source.manifest(entry, progress: progress)
            try entry.digest.verify(document.data)
            guard !document.isIndex else {
                throw OCILayoutError.unsupportedManifest(image: image, mediaType: "an index inside an index")
            }
            chosenPlatform = entry.platform
        }
        let manifest = try JSONDecoder.decodeDocument(ImageManifest.self, from: document.data, what: "manifest \(document.digest) of \(image)")
        guard manifest.config.size <= DocumentLimits.config else {
            throw OCILayoutError.tooLarge(what: "config \(manifest.config.digest) of \(image)", size: manifest.config.size, limit: DocumentLimits.config)
        }
        var manifestDescriptor = document.descriptor
        progress?(.resolved(image: image, manifest: manifestDescriptor, layers: manifest.layers))

        try await source.fetchBlob(manifest.config, into: store, progress: progress)
        let configData = try store.read(manifest.config, limit: DocumentLimits.config)
        let configuration = try JSONDecoder.decodeDocument(ImageConfiguration.self, from: configData, what: "config \(manifest.config.digest) of \(image)")
        let configPlatform = Platform(os: configuration.os ?? "", architecture: configuration.architecture ?? "", variant: configuration.variant)
        // A single-platform image says its platform only in its config; refuse a wrong one here
        // rather than build a machine that cannot run.
        if chosenPlatform == nil, !configPlatform.os.isEmpty, !configPlatform.architecture.isEmpty, !platform.matches(configPlatform) {
            throw OCILayoutError.noMatchingPlatform(image: image, wanted: platform.description, available: [configPlatform.description])
        }
        manifestDescriptor.platform = chosenPlatform ?? (configPlatform.os.isEmpty ? nil : configPlatform)

        return FetchedImage(manifestDescriptor: manifestDescriptor, manifest: manifest, configuration: configuration, document: document)
    }

    /// The second half of ``fetch(from:into:progress:)``: the layers, then the manifest.
    ///
    /// Layers start in manifest order, at most ``jobs`` at once. With a `window`, a layer also
    /// waits while the layers still downloading ahead of it add up to more than `window` bytes:
    /// on a slow link the first layers then get the bandwidth, so that a caller applying each
    /// layer as it arrives (see ``BlobArrival``) is not left waiting for a layer that shares the
    /// link with later ones. Small layers still go several at a time.
    public func fetchLayers(
        of image: FetchedImage, from source: ImageSource, into store: ContentStore,
        progress: TransferEventHandler? = nil, window: Int64? = nil, only indices: Range<Int>? = nil
    ) async throws {
        let layers = image.manifest.layers
        let wanted = indices.map { Array(layers[$0.clamped(to: layers.indices)]) } ?? layers
        try await fetchBlobs(wanted, from: source, into: store, progress: progress, window: window)
        try store.write(image.document.data, as: image.document.descriptor)
    }

    /// Fetches `blobs` (each once), at most ``jobs`` at a time, in order (see
    /// ``fetchLayers(of:from:into:progress:window:)`` for `window`).
    func fetchBlobs(
        _ blobs: [Descriptor], from source: ImageSource, into store: ContentStore,
        progress: TransferEventHandler? = nil, window: Int64? = nil
    ) async throws {
        var unique: [Descriptor] = []
        for blob in blobs where !unique.contains(where: { $0.digest == blob.digest }) {
            unique.append(blob)
        }
        try await withThrowingTaskGroup(of: Descriptor.self) { group in
            var pending = unique[...]
            var inFlight: [Digest: Int64] = [:]
            func startWhatFits() {
                while let next = pending.first, inFlight.count < max(1, jobs) {
                    if let window, !inFlight.isEmpty, inFlight.values.reduce(0, +) + next.size > window { break }
                    pending.removeFirst()
                    inFlight[next.digest] = next.size
                    group.addTask {
                        try await source.fetchBlob(next, into: store, progress: progress)
                        return next
                    }
                }
            }
            startWhatFits()
            while let done = try await group.next() {
                inFlight[done.digest] = nil
                startWhatFits()
            }
        }
    }
}
