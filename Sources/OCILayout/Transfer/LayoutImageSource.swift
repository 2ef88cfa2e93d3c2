import Foundation
import BlockingWork

/// An image in an OCI image layout directory, as `oci:DIR[:TAG]` names it.
public struct LayoutImageSource: ImageSource {
    public let layout: ImageLayout
    public let tag: String?

    public init(layout: ImageLayout, tag: String?) {
        self.layout = layout
        self.tag = tag
    }

    public var displayName: String { "oci:\(layout.path)" + (tag.map { ":\($0)" } ?? "") }

    public func rootManifest(progress: TransferEventHandler?) async throws -> ManifestDocument {
        try manifest(layout.resolve(tag: tag))
    }

    public func manifest(_ descriptor: Descriptor, progress: TransferEventHandler?) async throws -> ManifestDocument {
        try manifest(descriptor)
    }

    private func manifest(_ descriptor: Descriptor) throws -> ManifestDocument {
        guard descriptor.size <= DocumentLimits.manifest else {
            throw OCILayoutError.tooLarge(what: "manifest \(descriptor.digest) of \(displayName)", size: descriptor.size, limit: DocumentLimits.manifest)
        }
        let data = try layout.store.read(descriptor, limit: DocumentLimits.manifest)
        let mediaType = try MediaType.ofManifest(data, declared: descriptor.mediaType, image: displayName)
        return ManifestDocument(data: data, mediaType: mediaType, digest: descriptor.digest)
    }

    public func fetchBlob(_ descriptor: Descriptor, into store: ContentStore, progress: TransferEventHandler?) async throws {
        if store.contains(descriptor.digest) {
            progress?(.blobSkipped(descriptor))
            return
        }
        progress?(.blobStarted(descriptor, resumingAt: 0))
        let from = layout.store
        try await BlockingWork.run {
            try store.copy(descriptor, from: from) { done in
                progress?(.blobProgress(descriptor.digest, completed: done, total: descriptor.size))
            }
        }
        progress?(.blobFinished(descriptor.digest))
    }
}
