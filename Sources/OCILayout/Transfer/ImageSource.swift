import Foundation

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
