/// A single-platform image manifest: a config blob and an ordered list of layers.
///
/// OCI manifests and Docker v2 schema 2 manifests share this shape, so one type reads both.
public struct ImageManifest: Codable, Hashable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?

    public init(mediaType: String = MediaType.ociManifest, config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

extension ImageManifest {
    /// The most layers mbctl takes from one image. Docker's overlay storage stops at 128;
    /// a thousand leaves room for any builder and bounds the work a hostile manifest can ask for.
    public static let largestLayerCount = 1000

    private enum CodingKeys: String, CodingKey {
        case schemaVersion, mediaType, config, layers, annotations
    }

    /// Decodes a manifest, refusing more than ``largestLayerCount`` layers.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try container.decode(Int.self, forKey: .schemaVersion)
        mediaType = try container.decodeIfPresent(String.self, forKey: .mediaType)
        config = try container.decode(Descriptor.self, forKey: .config)
        layers = try container.decode([Descriptor].self, forKey: .layers)
        guard layers.count <= Self.largestLayerCount else {
            throw DecodingError.dataCorruptedError(
                forKey: .layers, in: container, debugDescription: "the manifest lists \(layers.count) layers (at most \(Self.largestLayerCount) accepted)")
        }
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
    }
}

/// A list of manifests, one per platform: an OCI image index or a Docker manifest list.
/// An image layout's `index.json` is one too.
public struct ImageIndex: Codable, Hashable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var manifests: [Descriptor]
    public var annotations: [String: String]?

    public init(mediaType: String? = MediaType.ociIndex, manifests: [Descriptor] = [], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }
}
