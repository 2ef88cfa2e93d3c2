import ConfinedFilesystem
import Foundation
import ImageArchive
import OCILayout
import RegistryClient
import BlockingWork
import TrustPolicy

extension ImageAccess {
    /// What a copy produced.
    public struct CopyResult: Sendable {
        /// What the destination's tag points at: the platform's manifest, or with every
        /// platform the index (or the one manifest of a single-platform image).
        public var root: Descriptor
        /// Manifests copied: 1, or with every platform each one the index lists.
        public var manifestCount: Int
        /// Layers copied over all manifests (each blob once).
        public var layerCount: Int
        /// The destination with the tag it was given.
        public var destination: ImageLocation
        /// What a push to a registry did with the blobs (nil for other destinations).
        public var pushed: PushCounts?
        /// Signatures stored with the pushed image: the source's, and those made.
        public var signaturesCopied = 0
        public var signaturesMade = 0
    }

    /// `mbctl oci copy SRC DEST`: one platform's image, or with `allPlatforms` every platform
    /// of its index (`--all`), into an OCI image layout, an oci-archive or a registry, tagged as
    /// skopeo would tag it. A push takes the image's signatures along and signs as `signatures`
    /// says.
    public func copy(
        from location: ImageLocation, to destination: ImageLocation, allPlatforms: Bool = false, signatures: CopySignatures = CopySignatures(),
        progress: TransferEventHandler? = nil
    ) async throws -> CopyResult {
        if signatures.signing != nil, !destination.isRegistry {
            throw ImageLocationError.unsupported(
                destination.description, reason: "an OCI layout or archive holds no signatures; sign what is pushed to a docker:// destination")
        }
        func fetch(_ opened: Opened, into store: ContentStore) async throws -> (root: Descriptor, manifests: Int, layers: Int) {
            if allPlatforms {
                let set = try await fetcher.fetchEveryPlatform(from: opened.source, into: store, progress: progress)
                return (set.root, set.manifests.count, set.layerCount)
            }
            let image = try await fetcher.fetch(from: opened.source, into: store, progress: progress)
            return (image.manifestDescriptor, 1, Set(image.manifest.layers.map(\.digest)).count)
        }
        switch destination {
        case .ociArchive(let path, let requestedTag):
            let opened = try await open(location)
            let cache = try ImageCache(path: cacheDirectory).open()
            let copied = try await fetch(opened, into: cache.store)
            try opened.remember(copied.root, as: location)
            let tag = requestedTag ?? Self.defaultTag(for: location)
            try await BlockingWork.run { try OCIArchiveWriter.write(copied.root, tag: tag, from: cache.store, to: path) }
            return CopyResult(root: copied.root, manifestCount: copied.manifests, layerCount: copied.layers, destination: .ociArchive(path: path, tag: tag))
        case .layout(let path, let requestedTag):
            let opened = try await open(location)
            // A layout this copy creates is removed again if the copy fails; an existing one keeps
            // the verified blobs that arrived (and partial downloads, to resume), but no new tag.
            // Below a world-writable directory the layout must be one nobody else made.
            let directory = URL(fileURLWithPath: path).standardizedFileURL
            let createdLayout = try HostDirectory.open(directory.path, mode: 0o755).created
            do {
                let layout = try ImageLayout.openOrCreate(at: path)
                let copied = try await fetch(opened, into: layout.store)
                let tag = requestedTag ?? Self.defaultTag(for: location)
                try layout.setTag(tag, to: copied.root)
                return CopyResult(root: copied.root, manifestCount: copied.manifests, layerCount: copied.layers, destination: .layout(path: path, tag: tag))
            } catch {
                // Only what this copy made (mkdir said so), through its parent's descriptor.
                if createdLayout, let parent = try? HostDirectory.open(directory.deletingLastPathComponent().path, mode: 0o755, create: false) {
                    try? parent.handle.removeTree(Array(directory.lastPathComponent.utf8))
                }
                throw error
            }
        case .registry(let target):
            let opened = try await open(location)
            let cache = try ImageCache(path: cacheDirectory).open()
            let signatureDestination = SignatureDestination(client: try RegistryClient(configuration: registry), reference: target, trust: trust)
            func result(root: Descriptor, manifests: Int, layers: Int, pushed: PushCounts, signatures: PendingSignatures) -> CopyResult {
                CopyResult(
                    root: root, manifestCount: manifests, layerCount: layers, destination: destination, pushed: pushed,
                    signaturesCopied: signatures.copied, signaturesMade: signatures.made)
            }
            if case .registry(let source) = location, source.registry == target.registry, source.repository != target.repository {
                // Within one registry most blobs can be mounted: plan from the manifests, and
                // fetch (verified, into the cache) only what the registry will not mount.
                let plan = try await plan(opened, allPlatforms: allPlatforms, store: cache.store, progress: progress)
                let pending = try await pendingSignatures(
                    of: plan.root.digest, from: opened, handling: signatures, destination: signatureDestination)
                let counts = try await push(
                    plan, to: target, mountFrom: source, chunkSize: uploadChunkSize,
                    blobFile: { blob in
                        try await opened.source.fetchBlob(blob, into: cache.store, progress: progress)
                        return cache.store.path(of: blob.digest)
                    }, progress: progress)
                try await store(pending, of: plan.root.digest, at: signatureDestination)
                return result(root: plan.root.descriptor, manifests: max(1, plan.children.count), layers: plan.layerCount, pushed: counts, signatures: pending)
            }
            // Elsewhere everything is verified into the cache first; the push reads it there.
            let copied = try await fetch(opened, into: cache.store)
            try opened.remember(copied.root, as: location)
            let plan = try await BlockingWork.run { try Self.plan(copied.root, in: cache.store) }
            let pending = try await pendingSignatures(
                of: copied.root.digest, from: opened, handling: signatures, destination: signatureDestination)
            let counts = try await push(
                plan, to: target, mountFrom: nil, chunkSize: uploadChunkSize, blobFile: { cache.store.path(of: $0.digest) }, progress: progress)
            try await store(pending, of: copied.root.digest, at: signatureDestination)
            return result(root: copied.root, manifests: copied.manifests, layers: copied.layers, pushed: counts, signatures: pending)
        case .dockerArchive:
            throw ImageLocationError.unsupported(
                destination.description, reason: "mbctl oci copy writes oci:DIR[:TAG], oci-archive:FILE[:TAG] and docker://REFERENCE")
        }
    }

    /// The tag a destination gets when none is given: the source's tag, else `latest`.
    static func defaultTag(for source: ImageLocation) -> String {
        switch source {
        case .registry(let reference): return reference.tag ?? "latest"
        case .layout(_, let tag), .ociArchive(_, let tag): return tag ?? "latest"
        case .dockerArchive: return "latest"
        }
    }
}
