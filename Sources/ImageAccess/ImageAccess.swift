import Foundation
import ImageArchive
import LayerUnpacker
import OCILayout
import RegistryClient
import BlockingWork

/// Getting an image, the same way for every command: from where it is (an ``ImageLocation``)
/// through its source and the store its blobs go to, to the layers to apply.
///
/// `oci copy` copies it (``copy(from:to:progress:)``), `oci download` unpacks it
/// (``download(from:to:progress:layerApplied:)``), and `machines pull` prepares it and then
/// populates a staging rootfs (``prepare(_:progress:)``, ``populate(_:with:progress:layerApplied:)``).
/// Every step is cancellable, and nothing blocking runs on the Swift concurrency pool: archive
/// imports, local blob copies and lock waits run on threads of their own.
public struct ImageAccess: Sendable {
    public var registry: RegistryClient.Configuration
    public var platform: Platform
    /// The OCI image layout registry images and archives go through (`/var/tmp/man8s` by default).
    public var cacheDirectory: String
    /// Blobs fetched at once, from any source.
    public var jobs = 4
    /// Pushes upload blobs larger than this in chunks of this size (PATCH requests); nil: each
    /// blob in one request.
    public var uploadChunkSize: Int64?
    /// Threads creating files beside the tar reader (see ``LayerUnpacker/workers``).
    public var unpackWorkers = LayerUnpacker.defaultWorkers

    public init(registry: RegistryClient.Configuration = .init(), platform: Platform = .host, cacheDirectory: String) {
        self.registry = registry
        self.platform = platform
        self.cacheDirectory = cacheDirectory
    }

    /// An image's source, and the store its blobs go to: a local layout is read in place and is
    /// its own store; registry images and archives go through the cache.
    public struct Opened: Sendable {
        public let source: ImageSource
        public let store: ContentStore
        /// The command's share of the cache, when the image goes through it.
        let lease: CacheLease?

        /// Names the image `manifest` in the cache's index by its location, so that
        /// `cache list` shows it and `cache prune` can tell it (nothing for a layout read in place).
        func remember(_ manifest: Descriptor, as location: ImageLocation) throws {
            guard lease != nil else { return }
            try ImageLayout.open(at: store.root).setTag(location.description, to: manifest)
        }
    }

    /// Opens `location`. An archive is read here, once, into the cache (on a thread of its own).
    public func open(_ location: ImageLocation) async throws -> Opened {
        switch location {
        case .layout(let path, let tag):
            let layout = try ImageLayout.open(at: path)
            return Opened(source: LayoutImageSource(layout: layout, tag: tag), store: layout.store, lease: nil)
        case .registry(let reference):
            let cache = try ImageCache(path: cacheDirectory).open()
            let lease = try await ImageCache(path: cacheDirectory).lease()
            return Opened(
                source: try RegistryImageSource(client: try RegistryClient(configuration: registry), reference: reference), store: cache.store, lease: lease)
        case .ociArchive(let path, let name), .dockerArchive(let path, let name):
            let kind: ArchiveImageSource.Kind = if case .ociArchive = location { .oci } else { .docker }
            let cache = try ImageCache(path: cacheDirectory).open()
            let lease = try await ImageCache(path: cacheDirectory).lease()
            let source = try await BlockingWork.run { flag in
                try ArchiveImageSource.open(path: path, kind: kind, name: name, cache: cache.store, cancellation: flag)
            }
            return Opened(source: source, store: cache.store, lease: lease)
        }
    }

    /// An image whose manifest and config are in hand and whose layers are still to come.
    public struct PreparedImage: Sendable {
        public let image: FetchedImage
        public let location: ImageLocation
        let opened: Opened
    }

    /// Chooses the image's manifest and stores its config: what a caller needs to know (its
    /// volumes, say) before the layers come.
    public func prepare(_ location: ImageLocation, progress: TransferEventHandler? = nil) async throws -> PreparedImage {
        let opened = try await open(location)
        let image = try await fetcher.resolve(from: opened.source, into: opened.store, progress: progress)
        return PreparedImage(image: image, location: location, opened: opened)
    }

    var fetcher: ImageFetcher { ImageFetcher(platform: platform, jobs: jobs) }
}
