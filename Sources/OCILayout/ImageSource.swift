import Foundation

/// A manifest or index exactly as its source holds it: the bytes (their digest is the image's
/// identity), its media type and digest.
public struct ManifestDocument: Sendable {
    public var data: Data
    public var mediaType: String
    public var digest: Digest

    public init(data: Data, mediaType: String, digest: Digest) {
        self.data = data
        self.mediaType = mediaType
        self.digest = digest
    }

    public var descriptor: Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: Int64(data.count))
    }

    public var isIndex: Bool { MediaType.indexTypes.contains(mediaType) }
}

/// Somewhere images are read from: a registry, an image layout, an archive.
///
/// A source only fetches; ``ImageFetcher`` does the rest (platform choice, verification of
/// documents, parallel blobs), so every source behaves the same.
public protocol ImageSource: Sendable {
    /// The image as the user named it, for messages.
    var displayName: String { get }
    /// The manifest or index the image name points at.
    func rootManifest(progress: TransferEventHandler?) async throws -> ManifestDocument
    /// The manifest `descriptor` names (a platform entry of an index). Must be verified against
    /// the descriptor's digest; ``ImageFetcher`` checks again.
    func manifest(_ descriptor: Descriptor, progress: TransferEventHandler?) async throws -> ManifestDocument
    /// Puts the blob `descriptor` names into `store` (verified by the store's ingest).
    func fetchBlob(_ descriptor: Descriptor, into store: ContentStore, progress: TransferEventHandler?) async throws
}
