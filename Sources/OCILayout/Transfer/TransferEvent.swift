/// What a copy or pull reports while it runs, for the CLI to draw; the libraries never print.
public enum TransferEvent: Sendable {
    /// The manifest to copy was chosen: its descriptor and the layers it lists.
    case resolved(image: String, manifest: Descriptor, layers: [Descriptor])
    /// A blob starts arriving; `resumingAt` is non-zero when a partial download is continued.
    case blobStarted(Descriptor, resumingAt: Int64)
    /// Bytes of a blob now on disk, of `total`.
    case blobProgress(Digest, completed: Int64, total: Int64)
    /// A blob is verified and stored.
    case blobFinished(Digest)
    /// A blob was already in the store: nothing was fetched.
    case blobSkipped(Descriptor)
    /// The unpacker has read `completed` of a layer blob's `total` bytes (it applies a layer
    /// while it downloads, so this trails ``blobProgress(_:completed:total:)``).
    case layerApplying(Digest, completed: Int64, total: Int64)
    /// The image comes from another place than its name says (a mirror, a rewritten location).
    case source(image: String, from: String, mirror: Bool)
    /// A request failed in a way that may pass; it is tried again after `delay` seconds.
    case retrying(url: String, attempt: Int, delay: Double, reason: String)
    /// A blob's upload to a registry starts (pushing).
    case uploadStarted(Descriptor)
    /// Bytes of a blob the registry has received, of `total`.
    case uploadProgress(Digest, completed: Int64, total: Int64)
    /// A blob is in the repository pushed to, and how it got there.
    case blobPushed(Descriptor, BlobPushOutcome)
    /// A manifest or index was put, under `tag` or (nil) only under its digest.
    case manifestPushed(Descriptor, tag: String?)
}

/// How a blob came to be in the repository pushed to.
public enum BlobPushOutcome: Sendable, Equatable {
    /// The repository had it already (a HEAD said so): nothing was sent.
    case alreadyThere
    /// The registry linked it from another of its repositories (a cross-repository mount).
    case mounted(from: String)
    /// Its bytes were uploaded, in `chunks` requests (1: monolithic).
    case uploaded(chunks: Int)
}

/// A receiver of ``TransferEvent``s; called from any thread, so it must be quick and thread-safe.
public typealias TransferEventHandler = @Sendable (TransferEvent) -> Void
