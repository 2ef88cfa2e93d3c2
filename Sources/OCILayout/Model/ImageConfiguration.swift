/// The image configuration blob (OCI image-spec config.md; Docker's is the same document).
///
/// Only the fields mbctl acts on are modelled; the blob itself is stored byte for byte.
public struct ImageConfiguration: Codable, Hashable, Sendable {
    public var architecture: String?
    public var os: String?
    /// When the image was built (RFC 3339), as its builder wrote it.
    public var created: String?
    public var variant: String?
    public var config: RuntimeSettings?
    public var rootfs: RootFS?

    /// What the image asks of the runtime that starts it.
    public struct RuntimeSettings: Codable, Hashable, Sendable {
        public var user: String?
        public var exposedPorts: [String: EmptyObject]?
        public var env: [String]?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var volumes: [String: EmptyObject]?
        public var workingDir: String?
        public var labels: [String: String]?
        public var stopSignal: String?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case user = "User"
            case exposedPorts = "ExposedPorts"
            case env = "Env"
            case entrypoint = "Entrypoint"
            case cmd = "Cmd"
            case volumes = "Volumes"
            case workingDir = "WorkingDir"
            case labels = "Labels"
            case stopSignal = "StopSignal"
        }
    }

    /// The uncompressed digests of the layers, in order (`diff_ids`).
    public struct RootFS: Codable, Hashable, Sendable {
        public var type: String
        public var diffIDs: [Digest]

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    /// The `{}` values of `Volumes` and `ExposedPorts`.
    public struct EmptyObject: Codable, Hashable, Sendable {
        public init() {}
    }
}
