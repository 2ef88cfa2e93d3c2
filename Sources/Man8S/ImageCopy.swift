import ConfinedFilesystem
import Foundation
import ImageArchive
import OCILayout
import RegistryClient

/// `mbctl oci copy SRC DEST`: one platform's image from any source into an OCI image layout,
/// tagged as skopeo would tag it.
public struct ImageCopy: Sendable {
    public var registry: RegistryClient.Configuration
    public var platform: Platform
    /// The cache layout archives are read into (and images fetched through for archive output).
    public var cacheDirectory: String

    public init(registry: RegistryClient.Configuration = .init(), platform: Platform = .host, cacheDirectory: String = HostLayout().cache) {
        self.registry = registry
        self.platform = platform
        self.cacheDirectory = cacheDirectory
    }

    /// What a copy produced.
    public struct Result: Sendable {
        public var image: FetchedImage
        /// The destination with the tag it was given.
        public var destination: ImageLocation
    }

    public func copy(from source: ImageLocation, to destination: ImageLocation, progress: TransferEventHandler? = nil) async throws -> Result {
        if case .ociArchive(let path, let requestedTag) = destination {
            let imageSource = try makeSource(source)
            let cache = try ImageCache(path: cacheDirectory).open()
            let image = try await ImageFetcher(platform: platform, jobs: registry.jobs).fetch(from: imageSource, into: cache.store, progress: progress)
            let tag = requestedTag ?? Self.defaultTag(for: source)
            try OCIArchiveWriter.write(image.manifestDescriptor, tag: tag, from: cache.store, to: path)
            return Result(image: image, destination: .ociArchive(path: path, tag: tag))
        }
        guard case .layout(let path, let requestedTag) = destination else {
            throw ImageLocationError.unsupported(destination.description, reason: "mbctl oci copy writes oci:DIR[:TAG] and oci-archive:FILE[:TAG]")
        }
        let imageSource = try makeSource(source)
        // A layout this copy creates is removed again if the copy fails; an existing one keeps
        // the verified blobs that arrived (and partial downloads, to resume), but no new tag.
        let createdLayout = !FileManager.default.fileExists(atPath: path)
        do {
            // Below a world-writable directory the layout must be one nobody else made.
            _ = try HostDirectory.open(URL(fileURLWithPath: path).standardizedFileURL.path, mode: 0o755)
            let layout = try ImageLayout.openOrCreate(at: path)
            let fetcher = ImageFetcher(platform: platform, jobs: registry.jobs)
            let image = try await fetcher.fetch(from: imageSource, into: layout.store, progress: progress)
            let tag = requestedTag ?? Self.defaultTag(for: source)
            try layout.setTag(tag, to: image.manifestDescriptor)
            return Result(image: image, destination: .layout(path: path, tag: tag))
        } catch {
            if createdLayout { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
    }

    /// The ``ImageSource`` that reads `location`.
    public func makeSource(_ location: ImageLocation) throws -> ImageSource {
        switch location {
        case .registry(let reference):
            return RegistryImageSource(client: try RegistryClient(configuration: registry), reference: reference)
        case .layout(let path, let tag):
            return LayoutImageSource(layout: try ImageLayout.open(at: path), tag: tag)
        case .ociArchive(let path, let tag):
            return try ArchiveImageSource.open(path: path, kind: .oci, name: tag, cache: try ImageCache(path: cacheDirectory).open().store)
        case .dockerArchive(let path, let reference):
            return try ArchiveImageSource.open(path: path, kind: .docker, name: reference, cache: try ImageCache(path: cacheDirectory).open().store)
        }
    }

    /// The tag a destination gets when none is given: the source's tag, else `latest`.
    static func defaultTag(for source: ImageLocation) -> String {
        switch source {
        case .registry(let reference): return reference.tag ?? "latest"
        case .layout(_, let tag), .ociArchive(_, let tag): return tag ?? "latest"
        case .dockerArchive: return "latest"
        }
    }
}
