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

    /// What a push sends: blobs first, then the manifests an index lists, then the document the
    /// tag names. Every document is verified against its digest before it is planned.
    struct PushPlan: Sendable {
        var root: ManifestDocument
        var children: [ManifestDocument]
        /// Configs and layers, each once.
        var blobs: [Descriptor]
        /// How many of them are layers.
        var layerCount: Int
    }

    /// The plan for the image `root` names in `store`, where all its blobs are.
    static func plan(_ root: Descriptor, in store: ContentStore) throws -> PushPlan {
        let manifestTypes = MediaType.indexTypes.union(MediaType.manifestTypes)
        let reachable = try ImageGraph.blobs(reachableFrom: root, in: store)
        func document(_ descriptor: Descriptor) throws -> ManifestDocument {
            ManifestDocument(data: try store.read(descriptor, limit: DocumentLimits.manifest), mediaType: descriptor.mediaType, digest: descriptor.digest)
        }
        let children = try reachable.filter { manifestTypes.contains($0.mediaType) && $0.digest != root.digest }.map(document)
        let configs = try (children.isEmpty ? [try document(root)] : children).map {
            try JSONDecoder.decodeDocument(ImageManifest.self, from: $0.data, what: "manifest \($0.digest)").config.digest
        }
        let blobs = reachable.filter { !manifestTypes.contains($0.mediaType) }
        return PushPlan(root: try document(root), children: children, blobs: blobs, layerCount: blobs.filter { !configs.contains($0.digest) }.count)
    }

    /// The plan for the image `opened` names, from its manifests alone: the platform's
    /// manifest, or with `allPlatforms` the index and each manifest it lists. Only configs are
    /// fetched (into `store`); layers are left for ``push(_:to:mountFrom:chunkSize:blobFile:progress:)``
    /// to fetch if the registry cannot mount them.
    func plan(_ opened: Opened, allPlatforms: Bool, store: ContentStore, progress: TransferEventHandler?) async throws -> PushPlan {
        let source = opened.source
        func plan(root: ManifestDocument, children: [ManifestDocument]) throws -> PushPlan {
            var blobs: [Descriptor] = []
            var layers = Set<Digest>()
            for document in children.isEmpty ? [root] : children {
                let manifest = try JSONDecoder.decodeDocument(ImageManifest.self, from: document.data, what: "manifest \(document.digest) of \(source.displayName)")
                layers.formUnion(manifest.layers.map(\.digest))
                for blob in [manifest.config] + manifest.layers where !blobs.contains(where: { $0.digest == blob.digest }) {
                    blobs.append(blob)
                }
            }
            return PushPlan(root: root, children: children, blobs: blobs, layerCount: layers.count)
        }
        if allPlatforms {
            let root = try await source.rootManifest(progress: progress)
            guard root.isIndex else { return try plan(root: root, children: []) }
            var children: [ManifestDocument] = []
            for entry in try ImageGraph.manifests(of: root.data, what: "the index of \(source.displayName)") {
                let document = try await source.manifest(entry, progress: progress)
                try entry.digest.verify(document.data)
                guard !document.isIndex else {
                    throw OCILayoutError.unsupportedManifest(image: source.displayName, mediaType: "an index inside an index")
                }
                children.append(document)
            }
            return try plan(root: root, children: children)
        }
        let image = try await fetcher.resolve(from: source, into: store, progress: progress)
        return try plan(root: image.document, children: [])
    }

    /// Pushes `plan` to `reference`: every blob (`jobs` at a time), then each manifest of an
    /// index by digest, then the root under the reference's tag (or digest). Manifests go with
    /// their own bytes, so the registry's digest is the source's. A blob the registry's
    /// repository `mountFrom` has is mounted instead of uploaded; `blobFile` gives the verified
    /// file of a blob that must be uploaded.
    func push(
        _ plan: PushPlan, to reference: ImageReference, mountFrom: ImageReference?, chunkSize: Int64?,
        blobFile: @escaping @Sendable (Descriptor) async throws -> String, progress: TransferEventHandler?
    ) async throws -> PushCounts {
        if let digest = reference.digest, digest != plan.root.digest {
            throw ImageAccessError.invalidImage(reason: "\(reference) names digest \(digest), the image is \(plan.root.digest)")
        }
        let client = try RegistryClient(configuration: registry)
        var counts = PushCounts()
        var unique: [Descriptor] = []
        for blob in plan.blobs where !unique.contains(where: { $0.digest == blob.digest }) { unique.append(blob) }
        try await withThrowingTaskGroup(of: (Descriptor, BlobPushOutcome).self) { group in
            var pending = unique[...]
            func startNext() {
                guard let blob = pending.popFirst() else { return }
                group.addTask {
                    let outcome = try await client.pushBlob(
                        blob, file: { try await blobFile(blob) }, to: reference, mountFrom: mountFrom, chunkSize: chunkSize, progress: progress)
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
        for document in plan.children {
            try await client.pushManifest(document, to: reference, tag: nil, progress: progress)
        }
        try await client.pushManifest(plan.root, to: reference, tag: reference.digest == nil ? reference.tag ?? "latest" : nil, progress: progress)
        return counts
    }
}
