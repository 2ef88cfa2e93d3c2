import Foundation
import OCILayout
import Testing

/// Offline import from OCI and Docker archives, against rootfses pulled from a real registry.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ArchiveTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-archive-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func compare(_ expected: String, _ actual: String) throws -> CommandResult {
        try runCommand(["python3", "\(TestPaths.fixtures)/compare-trees.py", expected, actual], check: false)
    }

    /// The differential image (gzip layers), pushed, and its layout on disk.
    func setUp(_ registry: TestRegistry) throws -> String {
        let spec = try String(contentsOfFile: "\(TestPaths.fixtures)/differential-image.json", encoding: .utf8)
            .replacingOccurrences(of: "\"zstd\"", with: "\"gzip\"")
        try spec.write(toFile: "\(work)/spec.json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/spec.json", "\(work)/layout"])
        try registry.push(spec: spec, as: "apps/archive", tag: "diff")
        return "\(work)/layout"
    }

    @Test func archivesGiveTheSameRootfsAsTheRegistry() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let layout = try setUp(registry)
        let source = "docker://\(registry.host)/apps/archive:diff"
        let expected = "\(work)/from-registry"
        #expect(try runMbctl(["oci", "download", "--cache-dir", "\(work)/cache0", source, expected]).succeeded)

        try runCommand(["skopeo", "copy", "--quiet", "--src-tls-verify=false", source, "oci-archive:\(work)/skopeo.oci.tar:diff"])
        try runCommand(["skopeo", "copy", "--quiet", "--src-tls-verify=false", source, "docker-archive:\(work)/skopeo.docker.tar:example/app:diff"])
        try runCommand(["sh", "-c", "gzip -c \(work)/skopeo.docker.tar > \(work)/skopeo.docker.tar.gz"])
        try runCommand(["python3", "\(TestPaths.fixtures)/make-archive.py", "docker25", layout, "\(work)/docker25.tar", "diff"])
        let sources = [
            "oci-archive:\(work)/skopeo.oci.tar:diff", "oci-archive:\(work)/skopeo.oci.tar",
            "docker-archive:\(work)/skopeo.docker.tar", "docker-archive:\(work)/skopeo.docker.tar.gz:example/app:diff",
            "docker-archive:\(work)/docker25.tar:example:diff",
        ]
        for (index, archive) in sources.enumerated() {
            let target = "\(work)/rootfs\(index)"
            let result = try runMbctl(["oci", "download", "--cache-dir", "\(work)/cache\(index + 1)", archive, target])
            #expect(result.succeeded, "\(archive): \(result.stderr)")
            let comparison = try compare(expected, target)
            #expect(comparison.succeeded, "\(archive):\n\(comparison.stdout)")
        }
        // A machine from an archive, too.
        let pulled = try runMbctl([
            "machines", "pull", "oci-archive:\(work)/skopeo.oci.tar", "fromarchive", "--root", "\(work)/host",
            "--prefix", "300::/64", "--busybox", MachineLifecycleTests.busybox,
        ])
        #expect(pulled.succeeded, "\(pulled.stderr)")
    }

    @Test func writesAnOCIArchiveThatSkopeoAndMbctlRead() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        _ = try setUp(registry)
        let archive = "\(work)/written.tar"
        let copied = try runMbctl(["oci", "copy", "--cache-dir", "\(work)/cache", "\(registry.host)/apps/archive:diff", "oci-archive:\(archive):v9"])
        #expect(copied.succeeded, "\(copied.stderr)")
        let digest = try registry.manifestDigest("apps/archive:diff")
        #expect(try runCommand(["skopeo", "inspect", "oci-archive:\(archive):v9"]).stdout.contains(digest))
        let back = try runMbctl(["oci", "copy", "--cache-dir", "\(work)/cache2", "oci-archive:\(archive):v9", "oci:\(work)/layout-back"])
        #expect(back.succeeded, "\(back.stderr)")
        #expect(back.stdout.contains(digest))
    }

    @Test func importedBlobsAreNotDownloadedAgain() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        _ = try setUp(registry)
        let source = "docker://\(registry.host)/apps/archive:diff"
        try runCommand(["skopeo", "copy", "--quiet", "--src-tls-verify=false", source, "oci-archive:\(work)/image.tar:diff"])
        let cache = "\(work)/cache"
        #expect(try runMbctl(["oci", "download", "--cache-dir", cache, "oci-archive:\(work)/image.tar", "\(work)/a"]).succeeded)
        let before = registry.log.components(separatedBy: "/blobs/sha256:").count
        let pulled = try runMbctl(["oci", "download", "--cache-dir", cache, source, "\(work)/b"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        // The registry served manifests only: no blob request at all.
        #expect(registry.log.components(separatedBy: "/blobs/sha256:").count == before, "\(registry.log)")
        #expect(!pulled.stderr.contains("fetching"))
    }

    @Test(arguments: [
        ("truncated", "it is truncated"),
        ("missing-blob", "is missing from it"),
        ("wrong-digest", "does not match its digest"),
        ("traversal", "entry \"../escape\": a path that leaves the archive"),
        ("huge-index", "entry \"index.json\": "),
        ("symlink-blob", "a link where a blob or an index should be"),
    ])
    func badArchivesFailCleanly(kind: String, message: String) throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        try ImageSpecs.multiLayer.write(toFile: "\(work)/spec.json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/spec.json", "\(work)/layout"])
        let archive = "\(work)/\(kind).tar"
        try runCommand(["python3", "\(TestPaths.fixtures)/make-archive.py", kind, "\(work)/layout", archive, "v1"])
        let target = "\(work)/rootfs"
        let result = try runMbctl(["oci", "download", "--cache-dir", "\(work)/cache", "oci-archive:\(archive)", target])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("archive \(archive)"), "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/cache/.ingest"))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/escape"))
        if kind == "wrong-digest" || kind == "symlink-blob" {
            // No blob of that name made it into the cache.
            let layer = try JSONDecoder().decode(
                ImageManifest.self,
                from: Data(
                    contentsOf: URL(
                        fileURLWithPath: "\(work)/layout/blobs/sha256/" + (try ImageLayout.open(at: "\(work)/layout").resolve(tag: nil).digest.encoded)))
            ).layers[0]
            #expect(!FileManager.default.fileExists(atPath: "\(work)/cache/blobs/sha256/\(layer.digest.encoded)"))
        }
    }

    @Test func anArchiveWithSeveralImagesNeedsAChoice() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        // Two tagged images in one layout, archived by GNU tar (names start with ./).
        for (tag, spec) in [("multi", ImageSpecs.multiLayer), ("small", ImageSpecs.small)] {
            try spec.write(toFile: "\(work)/\(tag).json", atomically: true, encoding: .utf8)
            try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/\(tag).json", "\(work)/\(tag)"])
            let specTag = tag == "multi" ? "v1" : "small"
            #expect(try runMbctl(["oci", "copy", "oci:\(work)/\(tag):\(specTag)", "oci:\(work)/both:\(tag)"]).succeeded)
        }
        try runCommand(["tar", "-cf", "\(work)/both.tar", "-C", "\(work)/both", "."])
        let ambiguous = try runMbctl(["oci", "download", "--cache-dir", "\(work)/cache", "oci-archive:\(work)/both.tar", "\(work)/r1"])
        #expect(!ambiguous.succeeded)
        #expect(ambiguous.stderr.contains("holds several images"), "\(ambiguous.stderr)")
        #expect(ambiguous.stderr.contains("multi") && ambiguous.stderr.contains("small"))
        let missing = try runMbctl(["oci", "download", "--cache-dir", "\(work)/cache", "oci-archive:\(work)/both.tar:other", "\(work)/r2"])
        #expect(missing.stderr.contains("no image tagged \"other\""), "\(missing.stderr)")
        let chosen = try runMbctl(["oci", "download", "--cache-dir", "\(work)/cache", "oci-archive:\(work)/both.tar:small", "\(work)/r3"])
        #expect(chosen.succeeded, "\(chosen.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(work)/r3/hello"))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/r3/bin/app"))
    }
}
