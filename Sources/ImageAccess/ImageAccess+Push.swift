import Foundation
import OCILayout
import RegistryClient

extension ImageAccess {
    /// What a push did with the blobs of an image.
    public struct PushCounts: Sendable, Equatable {
        public var uploaded = 0
        public var mounted = 0
        public var alreadyThere = 0
        /// Bytes sent in uploads.
        public var bytesUploaded: Int64 = 0
    }

    /// Pushes the image `root` names, whose blobs are all verified in `store`, to `reference`:
    /// every blob (configs and layers, `jobs` at a time), then each manifest of an index by
    /// digest, then `root` under the reference's tag (or digest). Manifests go with their own
    /// bytes, so the registry's digest is the source's. A blob the registry's repository
    /// `mountFrom` has is mounted instead of uploaded.
    func push(
        _ root: Descriptor, from store: ContentStore, to reference: ImageReference, mountFrom: ImageReference?,
        chunkSize: Int64?, progress: TransferEventHandler?
    ) async throws -> PushCounts {
        if let digest = reference.digest, digest != root.digest {
            throw ImageAccessError.invalidImage(reason: "\(reference) names digest \(digest), the image is \(root.digest)")
        }
        let client = try RegistryClient(configuration: registry)
        let blobs = try await BlockingWork.run { try ImageGraph.blobs(reachableFrom: root, in: store) }
        let manifestTypes = MediaType.indexTypes.union(MediaType.manifestTypes)
        let manifests = blobs.filter { manifestTypes.contains($0.mediaType) && $0.digest != root.digest }
        let contents = blobs.filter { !manifestTypes.contains($0.mediaType) }

        var counts = PushCounts()
        try await withThrowingTaskGroup(of: (Descriptor, BlobPushOutcome).self) { group in
            var pending = contents[...]
            func startNext() {
                guard let blob = pending.popFirst() else { return }
                group.addTask {
                    let outcome = try await client.pushBlob(
                        blob, path: store.path(of: blob.digest), to: reference, mountFrom: mountFrom, chunkSize: chunkSize, progress: progress)
                    return (blob, outcome)
                }
            }
            for _ in 0..<max(1, jobs) { startNext() }
            while let (blob, outcome) = try await group.next() {
                switch outcome {
                case .alreadyThere: counts.alreadyThere += 1
                case .mounted: counts.mounted += 1
                case .uploaded:
                    counts.uploaded += 1
                    counts.bytesUploaded += blob.size
                }
                startNext()
            }
        }
        for manifest in manifests + [root] {
            let data = try await BlockingWork.run { try store.read(manifest, limit: DocumentLimits.manifest) }
            let document = ManifestDocument(data: data, mediaType: manifest.mediaType, digest: manifest.digest)
            let tag = manifest.digest == root.digest && reference.digest == nil ? reference.tag ?? "latest" : nil
            try await client.pushManifest(document, to: reference, tag: tag, progress: progress)
        }
        return counts
    }
}
