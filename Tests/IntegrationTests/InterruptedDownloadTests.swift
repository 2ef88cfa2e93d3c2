import Foundation
import OCILayout
import Testing

/// A registry that goes away in the middle of a large blob.
@Suite(.serialized, .timeLimit(.minutes(10))) struct InterruptedDownloadTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// The single layer of the `large` image in `registry`.
    func largeLayer(_ registry: TestRegistry, repository: String) throws -> Descriptor {
        let digest = try registry.manifestDigest("\(repository):large")
        let data = try Data(contentsOf: URL(fileURLWithPath: registry.blobDataPath(String(digest.dropFirst(7)))))
        return try JSONDecoder().decode(ImageManifest.self, from: data).layers[0]
    }

    /// Waits until the partial download of `layer` in `layout` holds at least `bytes`.
    func waitForPartial(_ layer: Descriptor, in layout: String, bytes: Int64) throws {
        let partial = "\(layout)/.ingest/sha256-\(layer.digest.encoded)"
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let size = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int64) ?? 0
            if size >= bytes { return }
            usleep(20_000)
        }
        Issue.record("the download never reached \(bytes) bytes")
    }

    /// Waits until `process` has written a line containing `text`.
    func waitForLine(_ text: String, in process: BackgroundProcess) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.process.isRunning {
            if process.log.contains(text) { return }
            usleep(20_000)
        }
        Issue.record("no line with \"\(text)\" came: \(process.log)")
    }

    @Test func resumesAfterTheRegistryComesBack() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.large(megabytes: 40), as: "test/large", tag: "large")
        let layer = try largeLayer(registry, repository: "test/large")
        let layout = "\(work)/layout"

        let copy = try BackgroundProcess(
            [TestPaths.mbctl, "oci", "copy", "--limit-rate", "8000000", "--retry-times", "10", "\(registry.host)/test/large:large", "oci:\(layout)"],
            logPath: "\(work)/mbctl.log", environment: mbctlEnvironment())
        try waitForPartial(layer, in: layout, bytes: 6 << 20)
        registry.stop(abruptly: true)
        // Back once mbctl has noticed it gone and waits to retry.
        try waitForLine("retrying", in: copy)
        try registry.start()
        try copy.waitForExit()

        #expect(copy.process.terminationStatus == 0, "\(copy.log)")
        #expect(copy.log.contains("resuming \(layer.digest.encoded.prefix(12)) at"), "\(copy.log)")
        // The restarted registry served the rest as a range (206), not the whole blob again.
        #expect(registry.log.contains("\" 206 "), "\(registry.log)")
        #expect(!registry.log.contains("\" 200 \(layer.size) "))
        let ours = try Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(layer.digest.encoded)"))
        #expect(Digest.sha256(of: ours) == layer.digest)
    }

    @Test func failsCleanlyWhenRetriesRunOutAndResumesOnTheNextRun() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.large(megabytes: 24), as: "test/gone", tag: "large")
        let layer = try largeLayer(registry, repository: "test/gone")
        let layout = "\(work)/layout"
        _ = try ImageLayout.openOrCreate(at: layout)

        let copy = try BackgroundProcess(
            [TestPaths.mbctl, "oci", "copy", "--limit-rate", "8000000", "--retry-times", "3", "\(registry.host)/test/gone:large", "oci:\(layout)"],
            logPath: "\(work)/mbctl.log", environment: mbctlEnvironment())
        try waitForPartial(layer, in: layout, bytes: 4 << 20)
        registry.stop(abruptly: true)
        try copy.waitForExit()

        #expect(copy.process.terminationStatus != 0)
        #expect(copy.log.contains("gave up on \(registry.host)/v2/test/gone/blobs/\(layer.digest) after 3 attempts"), "\(copy.log)")
        #expect(!FileManager.default.fileExists(atPath: "\(layout)/blobs/sha256/\(layer.digest.encoded)"))
        #expect(try ImageLayout.open(at: layout).tags().isEmpty)

        // What arrived stays as a partial download, and the next run continues from it.
        try registry.start()
        let again = try runMbctl(["oci", "copy", "\(registry.host)/test/gone:large", "oci:\(layout)"])
        #expect(again.succeeded, "\(again.stderr)")
        #expect(again.stderr.contains("resuming \(layer.digest.encoded.prefix(12)) at"))
        #expect(registry.log.contains("\" 206 "))
        #expect(!FileManager.default.fileExists(atPath: "\(layout)/.ingest"))
    }
}
