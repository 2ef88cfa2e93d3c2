import ConfinedFilesystem
import Foundation
import LayerUnpacker
import OCILayout
import RegistryClient

/// `mbctl oci download SRC PATH`: an image's root filesystem, built from its layers.
///
/// The rootfs is assembled in a hidden directory beside PATH and renamed into place only when
/// every layer applied and verified, so PATH is either the whole rootfs or untouched.
public struct RootfsDownload: Sendable {
    public var registry: RegistryClient.Configuration
    public var platform: Platform
    /// The OCI image layout that caches registry images (`/var/tmp/man8s` by default).
    public var cacheDirectory: String
    /// Threads creating files beside the tar reader (see ``LayerUnpacker/workers``).
    public var unpackWorkers = LayerUnpacker.defaultWorkers

    public init(registry: RegistryClient.Configuration = .init(), platform: Platform = .host, cacheDirectory: String) {
        self.registry = registry
        self.platform = platform
        self.cacheDirectory = cacheDirectory
    }

    public struct Result: Sendable {
        public var image: FetchedImage
        public var statistics: UnpackStatistics
    }

    public func download(
        from source: ImageLocation, to path: String,
        progress: TransferEventHandler? = nil, layerApplied: (@Sendable (Int, Int, UnpackStatistics) -> Void)? = nil
    ) async throws -> Result {
        let target = URL(fileURLWithPath: path).standardizedFileURL.path
        try Self.checkTarget(target)
        let parentPath = (target as NSString).deletingLastPathComponent
        let parent = try DirectoryHandle.open(parentPath)
        let stagingName = Array(".\((target as NSString).lastPathComponent).mbctl-\(UUID().uuidString.prefix(8))".utf8)
        let staging = "\(parentPath)/\(String(decoding: stagingName, as: UTF8.self))"
        guard try naming(staging, { try parent.makeDirectoryIfMissing(stagingName, mode: 0o755) }) else {
            throw Man8SError.filesystem(path: staging, operation: "create", errno: EEXIST)
        }
        do {
            let image = try await prepare(source, progress: progress)
            let result = try await populate(staging, with: image, progress: progress, layerApplied: layerApplied)
            let targetName = Array((target as NSString).lastPathComponent.utf8)
            // PATH is missing or an empty directory (checked above): rename(2) replaces the latter.
            try naming(target) { try parent.rename(stagingName, to: targetName) }
            return result
        } catch {
            try? parent.removeTree(stagingName)
            throw error
        }
    }

    /// An image whose manifest and config are in hand and whose layers are still to come.
    public struct PreparedImage: Sendable {
        public let image: FetchedImage
        let source: ImageSource
        let store: ContentStore
    }

    /// Chooses the image's manifest and stores its config: what a caller needs to know (its
    /// volumes, say) before the layers come. An archive is read here, once.
    public func prepare(_ location: ImageLocation, progress: TransferEventHandler? = nil) async throws -> PreparedImage {
        let (source, store) = try storage(for: location)
        let image = try await ImageFetcher(platform: platform, jobs: registry.jobs).resolve(from: source, into: store, progress: progress)
        return PreparedImage(image: image, source: source, store: store)
    }

    /// Fetches the prepared image's layers and applies them into the existing empty directory
    /// `rootfs`, each while its bytes arrive: layer N is unpacked from the partial download as
    /// it grows (and from disk when it is cached), its digest and diff_id checked at its end.
    /// Downloads go in layer order with a bounded look-ahead (see ``ImageFetcher/fetchLayers``).
    /// The caller owns `rootfs` and removes it when this throws.
    public func populate(
        _ rootfs: String, with prepared: PreparedImage,
        progress: TransferEventHandler? = nil, layerApplied: (@Sendable (Int, Int, UnpackStatistics) -> Void)? = nil
    ) async throws -> Result {
        let (image, imageSource) = (prepared.image, prepared.source)
        var store = prepared.store
        let arrivals = BlobArrivals()
        store.arrivals = arrivals
        let fetcher = ImageFetcher(platform: platform, jobs: registry.jobs)
        let layers = try layerBlobs(of: image, arrivals: arrivals)
        let unpacker = LayerUnpacker(rootPath: rootfs, workers: unpackWorkers)
        let streamingStore = store
        let statistics = try await withThrowingTaskGroup(of: UnpackStatistics?.self) { group in
            group.addTask {
                do {
                    try await fetcher.fetchLayers(of: image, from: imageSource, into: streamingStore, progress: progress, window: Self.lookAhead)
                    arrivals.settle(in: streamingStore)
                } catch {
                    arrivals.settle(in: streamingStore, reason: error)
                    throw error
                }
                return nil
            }
            group.addTask {
                var total = UnpackStatistics()
                for (index, layer) in layers.enumerated() {
                    try Task.checkCancellation()
                    let applied = try await Self.applyOnItsOwnThread(unpacker, layer)
                    total += applied
                    layerApplied?(index + 1, layers.count, applied)
                }
                return total
            }
            var result: UnpackStatistics?
            do {
                while let finished = try await group.next() {
                    if let finished { result = finished }
                }
            } catch {
                // The unpacker may wait for bytes of a download that will not come now.
                arrivals.settle(in: streamingStore, reason: error)
                throw error
            }
            return result ?? UnpackStatistics()
        }
        return Result(image: image, statistics: statistics)
    }

    /// How many bytes of layers may download ahead of the first unfinished one.
    static let lookAhead: Int64 = 64 << 20

    /// Applying a layer blocks for seconds of file creation: that belongs on a thread of its own,
    /// not on one of the few threads Swift concurrency runs tasks on.
    static func applyOnItsOwnThread(_ unpacker: LayerUnpacker, _ layer: LayerBlob) async throws -> UnpackStatistics {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Swift.Result { try unpacker.apply(layer) })
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// PATH must not exist or be an empty directory, and its parent must exist.
    static func checkTarget(_ target: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try? FileManager.default.contentsOfDirectory(atPath: target))?.isEmpty == true else {
                throw Man8SError.targetNotEmpty(target)
            }
        }
        let parent = (target as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Man8SError.filesystem(path: parent, operation: "use as parent directory", errno: ENOENT)
        }
    }

    /// Where the image's blobs are read from: a local layout is used in place; registry images
    /// go through the cache.
    func storage(for source: ImageLocation) throws -> (ImageSource, ContentStore) {
        if case .layout(let path, let tag) = source {
            let layout = try ImageLayout.open(at: path)
            return (LayoutImageSource(layout: layout, tag: tag), layout.store)
        }
        let cache = try ImageCache(path: cacheDirectory).open()
        return (try ImageCopy(registry: registry, platform: platform, cacheDirectory: cacheDirectory).makeSource(source), cache.store)
    }

    /// The layers of `image` as the unpacker takes them, each read as it arrives, with its
    /// compression and diff_id.
    func layerBlobs(of image: FetchedImage, arrivals: BlobArrivals) throws -> [LayerBlob] {
        let diffIDs = image.configuration.rootfs?.diffIDs ?? []
        guard diffIDs.count == image.manifest.layers.count else {
            throw Man8SError.invalidImage(reason: "the config lists \(diffIDs.count) diff_ids for \(image.manifest.layers.count) layers")
        }
        return try zip(image.manifest.layers, diffIDs).map { layer, diffID in
            guard let compression = LayerCompression(mediaType: layer.mediaType) else {
                throw Man8SError.invalidImage(reason: "layer \(layer.digest) has unsupported media type \(layer.mediaType)")
            }
            let arriving = ArrivingLayer(arrival: arrivals.watch(layer))
            return LayerBlob(source: .arriving(arriving), compression: compression, digest: layer.digest.description, diffID: diffID.description)
        }
    }
}

/// A layer's bytes as its download delivers them, for the unpacker.
struct ArrivingLayer: LayerBytes {
    let arrival: BlobArrival

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try arrival.read(into: buffer, at: offset)
    }
}
