import Foundation
import ImageArchive
import LayerUnpacker
import OCILayout
import RegistryClient
import BlockingWork
import TrustPolicy

/// Getting an image, the same way for every command: from where it is (an ``ImageLocation``)
/// through its source and the store its blobs go to, to the layers to apply.
///
/// `oci copy` copies it (``copy(from:to:progress:)``), `oci download` unpacks it
/// (``download(from:to:progress:layerApplied:)``), and `machines pull` prepares it and then
/// populates a staging rootfs (``prepare(_:progress:)``, ``populate(_:with:progress:layerApplied:)``).
/// Every step is cancellable, and nothing blocking runs on the Swift concurrency pool: archive
/// imports, local blob copies and lock waits run on threads of their own.
public struct ImageAccess: Sendable {
    public var registry: RegistryClient.Configuration
    public var platform: Platform
    /// The OCI image layout registry images and archives go through (`/var/tmp/man8s` by default).
    public var cacheDirectory: String
    /// Blobs fetched at once, from any source.
    public var jobs = 4
    /// Pushes upload blobs larger than this in chunks of this size (PATCH requests); nil: each
    /// blob in one request.
    public var uploadChunkSize: Int64?
    /// Threads creating files beside the tar reader (see ``LayerUnpacker/workers``).
    public var unpackWorkers = LayerUnpacker.defaultWorkers
    /// The signature policy every image is let in by, and where signatures are: with no
    /// policy, images are taken unverified, and records say so.
    public var trust = ImageTrust.none

    public init(registry: RegistryClient.Configuration = .init(), platform: Platform = .host, cacheDirectory: String) {
        self.registry = registry
        self.platform = platform
        self.cacheDirectory = cacheDirectory
    }

    /// An image's source, and the store its blobs go to: a local layout is read in place and is
    /// its own store; registry images and archives go through the cache.
    public struct Opened: Sendable {
        public let source: ImageSource
        public let store: ContentStore
        /// The command's share of the cache, when the image goes through it.
        let lease: CacheLease?
        /// The image's signatures, as the signature policy read them (none for layouts and
        /// archives).
        let signatures: SignatureSource

        /// How the image was let in by the signature policy, once its root manifest has come
        /// (nil before, and for a source opened without verification).
        public var verification: ImageVerification? { (source as? VerifyingImageSource)?.verification }

        /// Names the image `manifest` in the cache's index by its location, so that
        /// `cache list` shows it and `cache prune` can tell it (nothing for a layout read in place).
        func remember(_ manifest: Descriptor, as location: ImageLocation) throws {
            guard lease != nil else { return }
            try ImageLayout.open(at: store.root).setTag(location.description, to: manifest)
        }
    }

    /// Opens `location`, its source checked by the signature policy (``trust``) as soon as its
    /// root manifest arrives; with `verifying` false (inspection only), not. An archive is read
    /// here, once, into the cache (on a thread of its own), once the policy can accept an image
    /// from it.
    public func open(_ location: ImageLocation, verifying: Bool = true) async throws -> Opened {
        let verifier = verifying ? trust.verifier : nil
        let subject = Self.policySubject(of: location)
        func gate(_ source: ImageSource, signatures: @escaping @Sendable () -> SignatureSource = { NoSignatures() }) -> ImageSource {
            guard verifying else { return source }
            return VerifyingImageSource(source, verifier: verifier, subject: subject, name: location.description, signatures: signatures)
        }
        switch location {
        case .layout(let path, let tag):
            try verifier?.refuseUnsignable(subject, image: location.description)
            let layout = try ImageLayout.open(at: path)
            return Opened(source: gate(LayoutImageSource(layout: layout, tag: tag)), store: layout.store, lease: nil, signatures: NoSignatures())
        case .registry(let reference):
            let cache = try ImageCache(path: cacheDirectory).open()
            let lease = try await ImageCache(path: cacheDirectory).lease()
            let client = try RegistryClient(configuration: registry)
            let source = try RegistryImageSource(client: client, reference: reference)
            let attachments = trust.storage.usesSigstoreAttachments(for: reference)
            let lookaside = trust.lookaside(for: reference)
            let signatures = RememberedSignatures {
                RegistrySignatures(client: client, endpoint: source.chosen, usesSigstoreAttachments: attachments, lookaside: lookaside)
            }
            return Opened(source: gate(source, signatures: { signatures }), store: cache.store, lease: lease, signatures: signatures)
        case .ociArchive(let path, let name), .dockerArchive(let path, let name):
            try verifier?.refuseUnsignable(subject, image: location.description)
            let kind: ArchiveImageSource.Kind = if case .ociArchive = location { .oci } else { .docker }
            let cache = try ImageCache(path: cacheDirectory).open()
            let lease = try await ImageCache(path: cacheDirectory).lease()
            let source = try await BlockingWork.run { flag in
                try ArchiveImageSource.open(path: path, kind: kind, name: name, cache: cache.store, cancellation: flag)
            }
            return Opened(source: gate(source), store: cache.store, lease: lease, signatures: NoSignatures())
        }
    }

    /// How the signature policy looks `location` up: a registry image by its name, a layout or
    /// archive by its absolute path (a docker-archive by its transport only).
    static func policySubject(of location: ImageLocation) -> PolicySubject {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        switch location {
        case .registry(let reference): return .docker(reference)
        case .layout(let path, _): return .file(transport: "oci", path: absolute(path))
        case .ociArchive(let path, _): return .file(transport: "oci-archive", path: absolute(path))
        case .dockerArchive: return .dockerArchive
        }
    }

    /// An image whose manifest and config are in hand and whose layers are still to come.
    public struct PreparedImage: Sendable {
        public let image: FetchedImage
        public let location: ImageLocation
        let opened: Opened

        /// How the signature policy let the image in.
        public var verification: ImageVerification { opened.verification ?? .notVerified }
    }

    /// Chooses the image's manifest and stores its config: what a caller needs to know (its
    /// volumes, say) before the layers come.
    public func prepare(_ location: ImageLocation, progress: TransferEventHandler? = nil) async throws -> PreparedImage {
        let opened = try await open(location)
        let image = try await fetcher.resolve(from: opened.source, into: opened.store, progress: progress)
        return PreparedImage(image: image, location: location, opened: opened)
    }

    /// The digest of the manifest `location` names now for this platform: what a pull would
    /// make a machine of, asked with manifest requests only (no blob, no signature: nothing is
    /// made of it; the upgrade that follows checks the policy). With `allPlatforms`, the digest of
    /// the index itself.
    public func currentDigest(of location: ImageLocation, allPlatforms: Bool = false) async throws -> Digest {
        let opened = try await open(location, verifying: false)
        defer { opened.lease?.release() }
        return try await fetcher.manifestDigest(from: opened.source, root: allPlatforms)
    }

    var fetcher: ImageFetcher { ImageFetcher(platform: platform, jobs: jobs) }
}
