/// How a layer blob is compressed, as its media type says.
public enum LayerCompression: String, Sendable {
    case none = "uncompressed"
    case gzip
    case zstd

    /// What the first bytes of a blob show it to be; `other` names formats mbctl does not accept.
    static func sniff(_ prefix: [UInt8]) -> (LayerCompression?, String) {
        if prefix.starts(with: [0x1F, 0x8B]) { return (.gzip, "gzip") }
        if prefix.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return (.zstd, "zstd") }
        if prefix.starts(with: [0x42, 0x5A, 0x68]) { return (nil, "bzip2") }
        if prefix.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return (nil, "xz") }
        return (LayerCompression.none, "uncompressed")
    }
}
