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
