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
    /// The largest size a descriptor may claim: 1 TiB, far beyond any real blob. A foreign
    /// number is checked before anything adds it up, allocates for it or builds a range of it.
    public static let largestSize: Int64 = 1 << 40

    private enum CodingKeys: String, CodingKey {
        case mediaType, digest, size, urls, annotations, platform, artifactType
    }

    /// Decodes a descriptor, refusing a size below 0 or above ``largestSize``.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try container.decode(String.self, forKey: .mediaType)
        digest = try container.decode(Digest.self, forKey: .digest)
        size = try container.decode(Int64.self, forKey: .size)
        guard (0...Self.largestSize).contains(size) else {
            throw DecodingError.dataCorruptedError(
                forKey: .size, in: container, debugDescription: "descriptor \(digest) claims a size of \(size) bytes (0 to \(Self.largestSize) accepted)")
        }
        urls = try container.decodeIfPresent([String].self, forKey: .urls)
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        platform = try container.decodeIfPresent(Platform.self, forKey: .platform)
        artifactType = try container.decodeIfPresent(String.self, forKey: .artifactType)
    }

    /// The annotation an OCI image layout uses to name (tag) an image in `index.json`.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"

    /// The tag of this descriptor in an image layout's `index.json`, if it has one.
    public var referenceName: String? { annotations?[Descriptor.refNameAnnotation] }
}
