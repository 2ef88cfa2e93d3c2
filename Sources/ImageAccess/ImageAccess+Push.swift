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
        /// Configs and layers of every manifest, each once.
        var blobs: [Descriptor] = []
        /// How many of them are layers.
        var layerCount = 0

        /// The plan for `root`, or with `children` for the index `root` and the manifests it lists.
        init(root: ManifestDocument, children: [ManifestDocument]) throws {
            self.root = root
            self.children = children
            var seen = Set<Digest>()
            var layers = Set<Digest>()
            for document in children.isEmpty ? [root] : children {
                let manifest = try JSONDecoder.decodeDocument(ImageManifest.self, from: document.data, what: "manifest \(document.digest)")
                layers.formUnion(manifest.layers.map(\.digest))
                for blob in [manifest.config] + manifest.layers where seen.insert(blob.digest).inserted {
                    blobs.append(blob)
                }
            }
            layerCount = layers.count
        }
    }

    /// The plan for the image `root` names in `store`, where all its blobs are.
    static func plan(_ root: Descriptor, in store: ContentStore) throws -> PushPlan {
        func document(_ descriptor: Descriptor) throws -> ManifestDocument {
            ManifestDocument(data: try store.read(descriptor, limit: DocumentLimits.manifest), mediaType: descriptor.mediaType, digest: descriptor.digest)
        }
        let rootDocument = try document(root)
        guard rootDocument.isIndex else { return try PushPlan(root: rootDocument, children: []) }
        let children = try ImageGraph.manifests(of: rootDocument.data, what: "index \(root.digest)").map(document)
        return try PushPlan(root: rootDocument, children: children)
    }

    /// The plan for the image `opened` names, from its manifests alone: the platform's
    /// manifest, or with `allPlatforms` the index and each manifest it lists. Only the config
    /// of a single platform is fetched (into `store`, to check the platform); layers are left
    /// for ``push(_:to:mountFrom:chunkSize:blobFile:progress:)`` to fetch if the registry
    /// cannot mount them.
    func plan(_ opened: Opened, allPlatforms: Bool, store: ContentStore, progress: TransferEventHandler?) async throws -> PushPlan {
        guard allPlatforms else {
            return try PushPlan(root: try await fetcher.resolve(from: opened.source, into: store, progress: progress).document, children: [])
        }
        let root = try await opened.source.rootManifest(progress: progress)
        guard root.isIndex else { return try PushPlan(root: root, children: []) }
        return try PushPlan(root: root, children: try await fetcher.platformManifests(of: root, from: opened.source, progress: progress).map(\.document))
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
        try await withThrowingTaskGroup(of: (Descriptor, BlobPushOutcome).self) { group in
            var pending = plan.blobs[...]
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
