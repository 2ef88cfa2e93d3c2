import ConfinedFilesystem
import Foundation
import LayerUnpacker
import OCILayout
import SystemErrors
import BlockingWork

extension ImageAccess {
    public struct UnpackResult: Sendable {
        public var image: FetchedImage
        public var statistics: UnpackStatistics
    }

    /// Hears that layer `index` (1-based) of `count` was applied, and what it held.
    public typealias LayerApplied = @Sendable (_ index: Int, _ count: Int, _ statistics: UnpackStatistics) -> Void

    /// `mbctl oci download SRC PATH`: the image's root filesystem at `path`.
    ///
    /// The rootfs is assembled in a hidden directory beside PATH and renamed into place only when
    /// every layer applied and verified, so PATH is either the whole rootfs or untouched; a
    /// failure or cancellation removes the staging directory.
    public func download(
        from location: ImageLocation, to path: String,
        progress: TransferEventHandler? = nil, layerApplied: LayerApplied? = nil
    ) async throws -> UnpackResult {
        let target = URL(fileURLWithPath: path).standardizedFileURL.path
        try Self.checkTarget(target)
        let parentPath = (target as NSString).deletingLastPathComponent
        let parent = try DirectoryHandle.open(parentPath)
        let stagingName = Array(".\((target as NSString).lastPathComponent).mbctl-\(UUID().uuidString.prefix(8))".utf8)
        let staging = "\(parentPath)/\(String(decoding: stagingName, as: UTF8.self))"
        guard try parent.makeDirectoryIfMissing(stagingName, mode: 0o755) else {
            throw FilesystemError(path: staging, operation: "create", errno: EEXIST)
        }
        do {
            let image = try await prepare(location, progress: progress)
            let result = try await populate(staging, with: image, progress: progress, layerApplied: layerApplied)
            // PATH is missing or an empty directory (checked above): rename(2) replaces the latter.
            do {
                try parent.rename(stagingName, to: Array((target as NSString).lastPathComponent.utf8))
            } catch let error as SystemCallError {
                throw FilesystemError(path: target, operation: "rename into place", errno: error.errno)
            }
            return result
        } catch {
            try? parent.removeTree(stagingName)
            throw error
        }
    }

    /// Fetches the prepared image's layers and applies them into the existing empty directory
    /// `rootfs`, each while its bytes arrive: layer N is unpacked from the partial download as
    /// it grows (and from disk when it is cached), its digest and diff_id checked at its end.
    /// Downloads go in layer order with a bounded look-ahead (see ``ImageFetcher/fetchLayers``).
    /// The caller owns `rootfs` and removes it when this throws.
    public func populate(
        _ rootfs: String, with prepared: PreparedImage,
        progress: TransferEventHandler? = nil, layerApplied: LayerApplied? = nil
    ) async throws -> UnpackResult {
        try await apply(prepared, placing: LayerPlacement(first: 0, root: { _ in rootfs }), progress: progress, layerApplied: layerApplied)
    }

    /// Where layers go when they are not all applied into one directory (layer chains: each
    /// layer into a snapshot of the tree below it).
    public struct LayerPlacement: Sendable {
        /// The first layer (0-based) to apply; those below it are not fetched.
        public var first: Int
        /// The directory layer `index` is applied into, asked for just before it is applied.
        public var root: @Sendable (_ index: Int) throws -> String
        /// Called once layer `index` is applied and its digests checked.
        public var finished: @Sendable (_ index: Int) throws -> Void

        public init(
            first: Int, root: @escaping @Sendable (_ index: Int) throws -> String, finished: @escaping @Sendable (_ index: Int) throws -> Void = { _ in }
        ) {
            self.first = first
            self.root = root
            self.finished = finished
        }
    }

    /// Applies the prepared image's layers from `placement.first` on, each into the directory
    /// `placement` names for it, while its bytes arrive (as ``populate(_:with:progress:layerApplied:)``).
    public func apply(
        _ prepared: PreparedImage, placing placement: LayerPlacement, progress: TransferEventHandler? = nil, layerApplied: LayerApplied? = nil
    ) async throws -> UnpackResult {
        let image = prepared.image, source = prepared.opened.source
        let arrivals = BlobArrivals()
        let store = prepared.opened.store.reporting(to: arrivals)
        let count = image.manifest.layers.count
        let first = min(max(0, placement.first), count)
        let layers = try layerBlobs(of: image, from: first, arrivals: arrivals, progress: progress)
        arrivals.completeStored(in: store)
        let workers = unpackWorkers
        let fetcher = self.fetcher, streamingStore = store
        let statistics = try await withThrowingTaskGroup(of: UnpackStatistics?.self) { group in
            group.addTask {
                do {
                    try await fetcher.fetchLayers(
                        of: image, from: source, into: streamingStore, progress: progress, window: Self.lookAhead, only: first..<count)
                    arrivals.settle(in: streamingStore)
                    try prepared.opened.remember(image.manifestDescriptor, as: prepared.location)
                } catch {
                    arrivals.settle(in: streamingStore, reason: error)
                    throw error
                }
                return nil
            }
            group.addTask {
                var total = UnpackStatistics()
                for (offset, layer) in layers.enumerated() {
                    try Task.checkCancellation()
                    let index = first + offset
                    let applied = try await BlockingWork.run { flag in
                        let unpacker = LayerUnpacker(rootPath: try placement.root(index), workers: workers)
                        let applied = try unpacker.apply(layer, cancellation: flag)
                        try placement.finished(index)
                        return applied
                    }
                    total += applied
                    layerApplied?(index + 1, count, applied)
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
        return UnpackResult(image: image, statistics: statistics)
    }

    /// How many bytes of layers may download ahead of the first unfinished one.
    static let lookAhead: Int64 = 64 << 20

    /// PATH must not exist or be an empty directory, and its parent must exist.
    static func checkTarget(_ target: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try? FileManager.default.contentsOfDirectory(atPath: target))?.isEmpty == true else {
                throw ImageAccessError.targetNotEmpty(target)
            }
        }
        let parent = (target as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FilesystemError(path: parent, operation: "use as parent directory", errno: ENOENT)
        }
    }

    /// The layers of `image` as the unpacker takes them, each read as it arrives, with its
    /// compression and diff_id.
    /// The layers from `first` on (0-based), for the unpacker, as their downloads deliver them.
    func layerBlobs(of image: FetchedImage, from first: Int = 0, arrivals: BlobArrivals, progress: TransferEventHandler?) throws -> [LayerBlob] {
        let diffIDs = image.configuration.rootfs?.diffIDs ?? []
        guard diffIDs.count == image.manifest.layers.count else {
            throw ImageAccessError.invalidImage(reason: "the config lists \(diffIDs.count) diff_ids for \(image.manifest.layers.count) layers")
        }
        return try zip(image.manifest.layers, diffIDs).dropFirst(first).map { layer, diffID in
            guard let compression = LayerCompression(mediaType: layer.mediaType) else {
                throw ImageAccessError.invalidImage(reason: "layer \(layer.digest) has unsupported media type \(layer.mediaType)")
            }
            let arriving = ArrivingLayer(arrival: arrivals.watch(layer), progress: progress)
            return LayerBlob(source: .arriving(arriving), compression: compression, digest: layer.digest.description, diffID: diffID.description)
        }
    }
}

/// A layer's bytes as its download delivers them, for the unpacker; how far it has read is
/// reported (at most once a mebibyte) for the progress display.
struct ArrivingLayer: LayerBytes {
    let arrival: BlobArrival
    let progress: TransferEventHandler?

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        let got = try arrival.read(into: buffer, at: offset)
        let end = offset + Int64(got)
        if let progress, end / (1 << 20) != offset / (1 << 20) || (got == 0 && offset > 0) {
            progress(.layerApplying(arrival.digest, completed: end, total: arrival.size))
        }
        return got
    }
}
