import Foundation

/// What a manifest or index in a ``ContentStore`` refers to, read with the same limits as when
/// it was fetched: a layout or archive may come from someone else.
public enum ImageGraph {
    /// The most manifests mbctl takes from one index (Docker Hub's images list a dozen platforms
    /// and their attestations); bounds the work a hostile index can ask for.
    public static let largestManifestCount = 1000

    /// `root` and every blob it needs: for a manifest its config and layers, for an index each
    /// of its manifests with theirs. Each blob once, in the order they are found. An index
    /// inside an index is refused.
    public static func blobs(reachableFrom root: Descriptor, in store: ContentStore) throws -> [Descriptor] {
        var found: [Descriptor] = []
        var seen = Set<Digest>()
        func add(_ descriptor: Descriptor) {
            if seen.insert(descriptor.digest).inserted { found.append(descriptor) }
        }
        add(root)
        let data = try store.read(root, limit: DocumentLimits.manifest)
        if MediaType.indexTypes.contains(root.mediaType) {
            for entry in try manifests(of: data, what: "index \(root.digest)") {
                add(entry)
                let manifest = try JSONDecoder.decodeDocument(
                    ImageManifest.self, from: try store.read(entry, limit: DocumentLimits.manifest), what: "manifest \(entry.digest)")
                for blob in [manifest.config] + manifest.layers { add(blob) }
            }
        } else {
            let manifest = try JSONDecoder.decodeDocument(ImageManifest.self, from: data, what: "manifest \(root.digest)")
            for blob in [manifest.config] + manifest.layers { add(blob) }
        }
        return found
    }

    /// The manifests an index lists, each once, checked against the limits: no more than
    /// ``largestManifestCount``, none larger than a manifest may be, no index among them.
    public static func manifests(of index: Data, what: String) throws -> [Descriptor] {
        let decoded = try JSONDecoder.decodeDocument(ImageIndex.self, from: index, what: what)
        guard decoded.manifests.count <= largestManifestCount else {
            throw OCILayoutError.invalidJSON(what: what, reason: "it lists \(decoded.manifests.count) manifests (at most \(largestManifestCount) accepted)")
        }
        var unique: [Descriptor] = []
        for entry in decoded.manifests where !unique.contains(where: { $0.digest == entry.digest }) {
            guard entry.size <= DocumentLimits.manifest else {
                throw OCILayoutError.tooLarge(what: "manifest \(entry.digest) of \(what)", size: entry.size, limit: DocumentLimits.manifest)
            }
            guard !MediaType.indexTypes.contains(entry.mediaType) else {
                throw OCILayoutError.unsupportedManifest(image: what, mediaType: "an index inside an index")
            }
            unique.append(entry)
        }
        return unique
    }
}
