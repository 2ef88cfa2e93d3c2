import Foundation
import OCILayout

/// `mbctl oci inspect SRC`: what an image is, read without unpacking it (skopeo inspect's
/// fields): the manifest chosen for the platform, its config, the documents as they are.
public struct ImageInspection: Sendable, Encodable {
    public var name: String
    public var digest: String
    public var created: String?
    public var architecture: String?
    public var os: String?
    public var variant: String?
    public var labels: [String: String]
    public var env: [String]
    public var entrypoint: [String]
    public var cmd: [String]
    public var workingDir: String?
    public var volumes: [String]
    public var layers: [Layer]
    /// The layers' digests.
    public var layerDigests: [String] { layers.map(\.digest) }
    /// The document the name points at, byte for byte (an index for a multi-platform image).
    public let rawManifest: Data
    /// The config blob, byte for byte.
    public let rawConfig: Data

    public struct Layer: Sendable, Encodable {
        public var mediaType: String
        public var digest: String
        public var size: Int64
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", digest = "Digest", created = "Created", architecture = "Architecture", os = "Os", variant = "Variant"
        case labels = "Labels", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd", workingDir = "WorkingDir", volumes = "Volumes", layers = "LayersData"
        case layerDigests = "Layers"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(digest, forKey: .digest)
        try container.encodeIfPresent(created, forKey: .created)
        try container.encodeIfPresent(architecture, forKey: .architecture)
        try container.encodeIfPresent(os, forKey: .os)
        try container.encodeIfPresent(variant, forKey: .variant)
        try container.encode(labels, forKey: .labels)
        try container.encode(env, forKey: .env)
        try container.encode(entrypoint, forKey: .entrypoint)
        try container.encode(cmd, forKey: .cmd)
        try container.encodeIfPresent(workingDir, forKey: .workingDir)
        try container.encode(volumes, forKey: .volumes)
        try container.encode(layers, forKey: .layers)
        try container.encode(layerDigests, forKey: .layerDigests)
    }
}

extension ImageInspection.Layer {
    enum CodingKeys: String, CodingKey {
        case mediaType = "MIMEType", digest = "Digest", size = "Size"
    }
}

extension ImageAccess {
    /// Resolves `location` for the platform and reads its config (into the cache, for registry
    /// images and archives; no layer is fetched). Like `skopeo inspect`, inspecting is no use of
    /// the image: the signature policy is not asked.
    public func inspect(_ location: ImageLocation, progress: TransferEventHandler? = nil) async throws -> ImageInspection {
        let opened = try await open(location, verifying: false)
        let root = try await opened.source.rootManifest(progress: progress)
        let image = try await fetcher.resolve(from: opened.source, into: opened.store, progress: progress)
        let config = try opened.store.read(image.manifest.config, limit: DocumentLimits.config)
        let runtime = image.configuration.config ?? ImageConfiguration.RuntimeSettings()
        return ImageInspection(
            name: opened.source.displayName, digest: image.manifestDescriptor.digest.description, created: image.configuration.created,
            architecture: image.configuration.architecture, os: image.configuration.os, variant: image.configuration.variant,
            labels: runtime.labels ?? [:], env: runtime.env ?? [], entrypoint: runtime.entrypoint ?? [], cmd: runtime.cmd ?? [],
            workingDir: runtime.workingDir, volumes: (runtime.volumes ?? [:]).keys.sorted(),
            layers: image.manifest.layers.map { ImageInspection.Layer(mediaType: $0.mediaType, digest: $0.digest.description, size: $0.size) },
            rawManifest: root.data, rawConfig: config)
    }
}
