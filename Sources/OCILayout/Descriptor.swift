/// A reference to content: what it is, its digest and its exact size (OCI image-spec descriptor.md).
///
/// The size is part of the contract: a blob that streams more or fewer bytes than this is refused,
/// which bounds how much a hostile registry can make us write.
public struct Descriptor: Codable, Hashable, Sendable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var platform: Platform?
    public var artifactType: String?

    public init(
        mediaType: String, digest: Digest, size: Int64,
        annotations: [String: String]? = nil, platform: Platform? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

extension Descriptor {
    /// The annotation an OCI image layout uses to name (tag) an image in `index.json`.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"

    /// The tag of this descriptor in an image layout's `index.json`, if it has one.
    public var referenceName: String? { annotations?[Descriptor.refNameAnnotation] }
}
