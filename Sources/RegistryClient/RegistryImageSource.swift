import OCILayout

/// An image in a registry, as `docker://REFERENCE` names it: the ``ImageSource`` that
/// ``ImageFetcher`` pulls from.
public struct RegistryImageSource: ImageSource {
    public let client: RegistryClient
    public let reference: ImageReference

    public init(client: RegistryClient, reference: ImageReference) {
        self.client = client
        self.reference = reference
    }

    public var displayName: String { reference.description }

    public func rootManifest(progress: TransferEventHandler?) async throws -> ManifestDocument {
        try await client.fetchManifest(reference, progress: progress)
    }

    public func manifest(_ descriptor: Descriptor, progress: TransferEventHandler?) async throws -> ManifestDocument {
        try await client.fetchManifest(reference, digest: descriptor.digest, progress: progress)
    }

    public func fetchBlob(_ descriptor: Descriptor, into store: ContentStore, progress: TransferEventHandler?) async throws {
        try await client.fetchBlob(descriptor, of: reference, into: store, progress: progress)
    }
}
