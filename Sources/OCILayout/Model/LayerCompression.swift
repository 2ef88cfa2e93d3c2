/// How a layer blob is compressed: what its media type says, and what its first bytes show.
public enum LayerCompression: String, Sendable {
    case none = "uncompressed"
    case gzip
    case zstd

    /// The compression a layer media type of OCI or Docker names (non-distributable ones
    /// included); nil for a type that is no layer mbctl can apply.
    public init?(mediaType: String) {
        switch mediaType {
        case MediaType.ociLayer, MediaType.ociLayerNondistributable: self = .none
        case MediaType.ociLayerGzip, MediaType.ociLayerNondistributableGzip, MediaType.dockerLayerGzip, MediaType.dockerLayerForeignGzip: self = .gzip
        case MediaType.ociLayerZstd, MediaType.ociLayerNondistributableZstd: self = .zstd
        default: return nil
        }
    }

    /// The OCI layer media type of this compression.
    public var ociMediaType: String {
        switch self {
        case .none: return MediaType.ociLayer
        case .gzip: return MediaType.ociLayerGzip
        case .zstd: return MediaType.ociLayerZstd
        }
    }

    /// What the first bytes of a blob show it to be (nil for formats mbctl does not accept), and
    /// the format's name for messages.
    public static func sniff(_ prefix: [UInt8]) -> (LayerCompression?, String) {
        if prefix.starts(with: [0x1F, 0x8B]) { return (.gzip, "gzip") }
        if prefix.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return (.zstd, "zstd") }
        if prefix.starts(with: [0x42, 0x5A, 0x68]) { return (nil, "bzip2") }
        if prefix.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return (nil, "xz") }
        return (LayerCompression.none, "uncompressed")
    }
}
