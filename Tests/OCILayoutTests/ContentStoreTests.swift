import Foundation
import Testing
@testable import OCILayout

@Suite struct ContentStoreTests {
    let directory: TemporaryDirectory
    let layout: ImageLayout

    init() throws {
        directory = try TemporaryDirectory()
        layout = try ImageLayout.openOrCreate(at: directory.path + "/layout")
    }

    func descriptor(for data: Data) -> Descriptor {
        Descriptor(mediaType: MediaType.ociLayerGzip, digest: .sha256(of: data), size: Int64(data.count))
    }

    @Test func createsAValidEmptyLayout() throws {
        let marker = try String(contentsOfFile: layout.path + "/oci-layout", encoding: .utf8)
        #expect(marker.contains("\"imageLayoutVersion\":\"1.0.0\""))
        #expect(try layout.index().manifests.isEmpty)
        #expect(FileManager.default.fileExists(atPath: layout.path + "/blobs/sha256"))
    }

    @Test func storesVerifiedBlobsOnly() throws {
        let good = Data("layer bytes".utf8)
        try layout.store.write(good, as: descriptor(for: good))
        #expect(layout.store.contains(.sha256(of: good)))
        #expect(try layout.store.read(descriptor(for: good), limit: 100) == good)

        let wrong = Descriptor(mediaType: MediaType.ociLayer, digest: .sha256(of: Data("other".utf8)), size: Int64(good.count))
        #expect(throws: OCILayoutError.digestMismatch(expected: wrong.digest, actual: .sha256(of: good))) {
            try layout.store.write(good, as: wrong)
        }
        #expect(!layout.store.contains(wrong.digest))
        #expect(!FileManager.default.fileExists(atPath: layout.path + "/.ingest/sha256-\(wrong.digest.encoded)"))
    }

    @Test func refusesBytesBeyondTheDescriptorSize() throws {
        let data = Data("twelve bytes".utf8)
        var short = descriptor(for: data)
        short.size = 5
        let ingest = try layout.store.beginIngest(short)
        #expect(throws: OCILayoutError.self) {
            try data.withUnsafeBytes { try ingest.append($0) }
        }
        #expect(!layout.store.contains(short.digest))
    }

    @Test func resumesFromAPartialFile() throws {
        let data = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let blob = descriptor(for: data)
        do {
            let first = try layout.store.beginIngest(blob)
            try data.prefix(40_000).withUnsafeBytes { try first.append($0) }
            // Dropped without commit, as an interrupted download would be.
        }
        let second = try layout.store.beginIngest(blob)
        #expect(second.offset == 40_000)
        try data.dropFirst(40_000).withUnsafeBytes { try second.append($0) }
        try second.commit()
        #expect(try layout.store.read(blob, limit: 1 << 20) == data)
        #expect(!FileManager.default.fileExists(atPath: layout.path + "/.ingest"))
    }

    @Test func concurrentIngestsOfOneBlobDoNotCorruptIt() async throws {
        let data = Data((0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        let blob = descriptor(for: data)
        let store = layout.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try store.write(data, as: blob)
                }
            }
            try await group.waitForAll()
        }
        #expect(try store.read(blob, limit: 4 << 20) == data)
    }

    @Test func readRefusesOversizedAndMissingBlobs() throws {
        let data = Data(repeating: 1, count: 1000)
        try layout.store.write(data, as: descriptor(for: data))
        #expect(throws: OCILayoutError.self) { try layout.store.read(descriptor(for: data), limit: 10) }
        let missing = descriptor(for: Data("missing".utf8))
        #expect(throws: OCILayoutError.blobNotFound(missing.digest, layout: layout.path)) { try layout.store.read(missing, limit: 100) }
    }

    @Test func tagsReplaceAndResolve() throws {
        let one = descriptor(for: Data("1".utf8)), two = descriptor(for: Data("2".utf8))
        try layout.setTag("v1", to: one)
        #expect(try layout.resolve(tag: nil).digest == one.digest)
        try layout.setTag("v2", to: two)
        try layout.setTag("v1", to: two)
        #expect(try layout.tags().sorted() == ["v1", "v2"])
        #expect(try layout.resolve(tag: "v1").digest == two.digest)
        #expect(throws: OCILayoutError.self) { try layout.resolve(tag: nil) }
        #expect(throws: OCILayoutError.tagNotFound("v3", layout: layout.path, available: ["v2", "v1"])) { try layout.resolve(tag: "v3") }
        let reopened = try ImageLayout.open(at: layout.path)
        #expect(try reopened.resolve(tag: "v2").referenceName == "v2")
    }

    @Test func openRefusesADirectoryThatIsNoLayout() throws {
        #expect(throws: OCILayoutError.self) { try ImageLayout.open(at: directory.path) }
    }
}
