import ConfinedFilesystem
import Foundation
import ImageArchive
import OCILayout

extension ImageAccess {
    /// What a copy produced.
    public struct CopyResult: Sendable {
        public var image: FetchedImage
        /// The destination with the tag it was given.
        public var destination: ImageLocation
    }

    /// `mbctl oci copy SRC DEST`: one platform's image into an OCI image layout or an
    /// oci-archive, tagged as skopeo would tag it.
    public func copy(from location: ImageLocation, to destination: ImageLocation, progress: TransferEventHandler? = nil) async throws -> CopyResult {
        switch destination {
        case .ociArchive(let path, let requestedTag):
            let opened = try await open(location)
            let cache = try ImageCache(path: cacheDirectory).open()
            let image = try await fetcher.fetch(from: opened.source, into: cache.store, progress: progress)
            try opened.remember(image.manifestDescriptor, as: location)
            let tag = requestedTag ?? Self.defaultTag(for: location)
            try await BlockingWork.run { try OCIArchiveWriter.write(image.manifestDescriptor, tag: tag, from: cache.store, to: path) }
            return CopyResult(image: image, destination: .ociArchive(path: path, tag: tag))
        case .layout(let path, let requestedTag):
            let opened = try await open(location)
            // A layout this copy creates is removed again if the copy fails; an existing one keeps
            // the verified blobs that arrived (and partial downloads, to resume), but no new tag.
            let createdLayout = !FileManager.default.fileExists(atPath: path)
            do {
                // Below a world-writable directory the layout must be one nobody else made.
                _ = try HostDirectory.open(URL(fileURLWithPath: path).standardizedFileURL.path, mode: 0o755)
                let layout = try ImageLayout.openOrCreate(at: path)
                let image = try await fetcher.fetch(from: opened.source, into: layout.store, progress: progress)
                let tag = requestedTag ?? Self.defaultTag(for: location)
                try layout.setTag(tag, to: image.manifestDescriptor)
                return CopyResult(image: image, destination: .layout(path: path, tag: tag))
            } catch {
                if createdLayout { try? FileManager.default.removeItem(atPath: path) }
                throw error
            }
        case .registry, .dockerArchive:
            throw ImageLocationError.unsupported(destination.description, reason: "mbctl oci copy writes oci:DIR[:TAG] and oci-archive:FILE[:TAG]")
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
