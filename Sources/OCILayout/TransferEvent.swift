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
}

/// A receiver of ``TransferEvent``s; called from any thread, so it must be quick and thread-safe.
public typealias TransferEventHandler = @Sendable (TransferEvent) -> Void
