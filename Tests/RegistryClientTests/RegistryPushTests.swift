import Foundation
import OCILayout
@testable import RegistryClient
import Testing

/// Push planning against ``FakeRegistry``: a blob the repository has is not sent, one another
/// repository has is mounted, others are uploaded (in chunks when asked), manifests go last.
struct RegistryPushTests {
    let work = NSTemporaryDirectory() + "mbctl-push-\(UUID().uuidString)"

    func file(_ bytes: [UInt8]) throws -> String {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let path = "\(work)/blob"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aBlobTheRepositoryHasIsNotSent() async throws {
        let registry = FakeRegistry()
        let blob = registry.putBlob(Array("present".utf8), in: "team/app")
        let client = RegistryFetchTests.client(registry)
        let outcome = try await client.pushBlob(
            blob,
            file: {
                Issue.record("the file was asked for"); return "/nonexistent"
            }, to: try ImageReference(parsing: "127.0.0.1:5000/team/app:1"))
        #expect(outcome == .alreadyThere)
        #expect(!registry.requests.contains { $0.method == .post || $0.method == .put || $0.method == .patch })
    }

    @Test func aBlobAnotherRepositoryHasIsMountedWithoutItsBytes() async throws {
        let registry = FakeRegistry()
        let blob = registry.putBlob(Array("shared base".utf8), in: "team/base")
        let client = RegistryFetchTests.client(registry)
        let outcome = try await client.pushBlob(
            blob,
            file: {
                Issue.record("the file was asked for"); return "/nonexistent"
            }, to: try ImageReference(parsing: "127.0.0.1:5000/team/app:1"),
            mountFrom: try ImageReference(parsing: "127.0.0.1:5000/team/base:1"))
        #expect(outcome == .mounted(from: "team/base"))
        #expect(registry.hasBlob(blob.digest, in: "team/app"))
        #expect(!registry.requests.contains { $0.method == .patch || $0.method == .put })
    }

    @Test func aNewBlobIsUploadedInTheChunksAskedForAndArrivesWhole() async throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = FakeRegistry()
        let bytes = Array((0..<25).map { UInt8($0) })
        let blob = Descriptor(mediaType: MediaType.ociLayerGzip, digest: Digest.sha256(of: Data(bytes)), size: 25)
        let path = try file(bytes)
        let client = RegistryFetchTests.client(registry)
        let outcome = try await client.pushBlob(blob, file: { path }, to: try ImageReference(parsing: "127.0.0.1:5000/team/app:1"), chunkSize: 10)
        #expect(outcome == .uploaded(chunks: 3))
        #expect(registry.requests.filter { $0.method == .patch }.count == 3, "10 + 10 + 5 bytes")
        #expect(registry.requests.filter { $0.method == .put }.count == 1, "one closing PUT with the digest")
        #expect(registry.hasBlob(blob.digest, in: "team/app"))
    }

    @Test func aManifestIsPutUnderItsTagAndTheRegistrysDigestChecked() async throws {
        let registry = FakeRegistry()
        let bytes = Array(#"{"schemaVersion":2}"#.utf8)
        let document = ManifestDocument(data: Data(bytes), mediaType: MediaType.ociManifest, digest: Digest.sha256(of: Data(bytes)))
        try await RegistryFetchTests.client(registry).pushManifest(document, to: try ImageReference(parsing: "127.0.0.1:5000/team/app:1"), tag: "1")
        #expect(registry.manifest("1", in: "team/app") == bytes)
    }
}
