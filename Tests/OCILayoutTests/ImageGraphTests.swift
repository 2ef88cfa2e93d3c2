import Foundation
import Testing
@testable import OCILayout

/// An index is foreign bytes: what it lists is bounded before anything is fetched for it.
@Suite struct ImageGraphTests {
    func entry(_ seed: Int, mediaType: String = MediaType.ociManifest, size: Int64 = 500) -> Descriptor {
        Descriptor(mediaType: mediaType, digest: .sha256(of: Data("manifest \(seed)".utf8)), size: size)
    }

    func index(_ entries: [Descriptor]) throws -> Data {
        try JSONEncoder().encode(ImageIndex(manifests: entries))
    }

    @Test func listsEachManifestOnce() throws {
        let listed = try ImageGraph.manifests(of: try index([entry(1), entry(2), entry(1)]), what: "test")
        #expect(listed.map(\.digest) == [entry(1).digest, entry(2).digest])
    }

    @Test func refusesTooManyManifests() throws {
        let many = (0...ImageGraph.largestManifestCount).map { entry($0) }
        #expect(throws: OCILayoutError.self) { try ImageGraph.manifests(of: try index(many), what: "test") }
        let enough = Array(many.dropLast())
        #expect(try ImageGraph.manifests(of: try index(enough), what: "test").count == ImageGraph.largestManifestCount)
    }

    @Test func refusesAHugeManifestOrAnIndexInside() throws {
        #expect(throws: OCILayoutError.tooLarge(what: "manifest \(entry(1).digest) of test", size: 1 << 40, limit: DocumentLimits.manifest)) {
            try ImageGraph.manifests(of: try index([entry(1, size: 1 << 40)]), what: "test")
        }
        #expect(throws: OCILayoutError.unsupportedManifest(image: "test", mediaType: "an index inside an index")) {
            try ImageGraph.manifests(of: try index([entry(2, mediaType: MediaType.ociIndex)]), what: "test")
        }
    }

    @Test func findsEveryBlobOfAnIndexInTheStore() throws {
        let directory = try TemporaryDirectory()
        let store = try ImageLayout.openOrCreate(at: directory.path + "/layout").store
        func put(_ data: Data, _ mediaType: String) throws -> Descriptor {
            let descriptor = Descriptor(mediaType: mediaType, digest: .sha256(of: data), size: Int64(data.count))
            try store.write(data, as: descriptor)
            return descriptor
        }
        let config = try put(Data("{}".utf8), MediaType.ociConfig)
        let shared = try put(Data("shared layer".utf8), MediaType.ociLayerGzip)
        let own = try put(Data("own layer".utf8), MediaType.ociLayerGzip)
        let first = try put(try JSONEncoder().encode(ImageManifest(config: config, layers: [shared])), MediaType.ociManifest)
        let second = try put(try JSONEncoder().encode(ImageManifest(config: config, layers: [shared, own])), MediaType.ociManifest)
        let root = try put(try index([first, second]), MediaType.ociIndex)
        let blobs = try ImageGraph.blobs(reachableFrom: root, in: store).map(\.digest)
        #expect(blobs == [root, first, config, shared, second, own].map(\.digest))
    }
}
