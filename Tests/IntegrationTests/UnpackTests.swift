import Foundation
import OCILayout
import Testing

/// `mbctl oci download` compared entry by entry with `umoci unpack` of the same image.
@Suite(.serialized, .timeLimit(.minutes(10))) struct UnpackTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-unpack-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// Builds an OCI layout from a make-image.py spec file's text.
    func makeLayout(_ spec: String, name: String) throws -> String {
        try spec.write(toFile: "\(work)/\(name).json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/\(name).json", "\(work)/\(name)"])
        return "\(work)/\(name)"
    }

    /// umoci's rootfs of `layout:tag`.
    func umociRootfs(_ layout: String, tag: String) throws -> String {
        let bundle = "\(layout)-umoci"
        try runCommand(["umoci", "unpack", "--image", "\(layout):\(tag)", bundle])
        return "\(bundle)/rootfs"
    }

    func compare(_ expected: String, _ actual: String) throws -> CommandResult {
        try runCommand(["python3", "\(TestPaths.fixtures)/compare-trees.py", expected, actual], check: false)
    }

    /// The leftovers of a failed download beside `target`: nothing but what was there before.
    func siblings(of target: String) -> [String] {
        let parent = (target as NSString).deletingLastPathComponent
        return ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter { $0.contains(".mbctl-") }
    }

    @Test func matchesUmociEntryByEntry() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let spec = try String(contentsOfFile: "\(TestPaths.fixtures)/differential-image.json", encoding: .utf8)
        #expect(spec.contains("\"zstd\""))
        let zstdLayout = try makeLayout(spec, name: "zstd")
        // umoci 0.4.7 cannot read zstd: it unpacks the same layers gzip-compressed.
        let gzipLayout = try makeLayout(spec.replacingOccurrences(of: "\"zstd\"", with: "\"gzip\""), name: "gzip")
        let expected = try umociRootfs(gzipLayout, tag: "diff")

        // With and without file-creating worker threads (their default depends on the cores).
        for (layout, name, workers) in [
            (zstdLayout, "zstd", "0"), (gzipLayout, "gzip", "0"), (zstdLayout, "zstd-workers", "3"), (gzipLayout, "gzip-workers", "2"),
        ] {
            let target = "\(work)/rootfs-\(name)"
            let result = try runMbctl(["oci", "download", "--unpack-workers", workers, "oci:\(layout):diff", target])
            #expect(result.succeeded, "\(result.stderr)")
            let comparison = try compare(expected, target)
            #expect(comparison.succeeded, "\(name) layers differ from umoci:\n\(comparison.stdout)")
            #expect(comparison.stdout.contains("entries equal"))
        }
    }

    @Test func matchesUmociOnGNUTarLayers() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        // Two layers made by GNU tar from real directories, the second deleting from the first.
        let lower = "\(work)/lower", upper = "\(work)/upper"
        try runCommand([
            "sh", "-c",
            """
            set -e
            mkdir -p \(lower)/usr/bin \(lower)/etc/conf.d \(lower)/var/lib/app \(lower)/dev
            printf 'binary' > \(lower)/usr/bin/tool && chmod 4755 \(lower)/usr/bin/tool
            ln \(lower)/usr/bin/tool \(lower)/usr/bin/tool-hardlink
            ln -s ../usr/bin/tool \(lower)/etc/tool-link
            printf 'conf' > \(lower)/etc/conf.d/a && printf 'gone' > \(lower)/etc/conf.d/b
            mkfifo \(lower)/var/lib/app/pipe && mknod \(lower)/dev/zero c 1 5
            printf 'ünïcødé' > "\(lower)/var/lib/app/naïve file.txt"
            chown -R 123:456 \(lower)/var/lib/app
            python3 -c "import os; os.setxattr('\(lower)/usr/bin/tool', 'user.note', b'from gnu tar')"
            touch -d '2021-02-03 04:05:06' \(lower)/etc/conf.d/a
            mkdir -p \(upper)/etc/conf.d \(upper)/var/lib/app
            : > \(upper)/etc/conf.d/.wh.b
            : > \(upper)/var/lib/app/.wh..wh..opq
            printf 'new' > \(upper)/var/lib/app/fresh
            """,
        ])
        let spec = """
            {"tag": "gnu", "images": [{"platform": "linux/amd64", "layers": [
              {"gnutar": "\(lower)", "compression": "gzip"}, {"gnutar": "\(upper)", "compression": "gzip"}]}]}
            """
        let layout = try makeLayout(spec, name: "gnu")
        let expected = try umociRootfs(layout, tag: "gnu")
        let target = "\(work)/rootfs"
        let result = try runMbctl(["oci", "download", "--unpack-workers", "2", "oci:\(layout):gnu", target])
        #expect(result.succeeded, "\(result.stderr)")
        let comparison = try compare(expected, target)
        #expect(comparison.succeeded, "\(comparison.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "\(target)/etc/conf.d/b"))
        #expect(!FileManager.default.fileExists(atPath: "\(target)/var/lib/app/pipe"))
        #expect(FileManager.default.fileExists(atPath: "\(target)/var/lib/app/fresh"))
    }

    @Test func downloadsFromARegistryThroughTheCache() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let spec = try String(contentsOfFile: "\(TestPaths.fixtures)/differential-image.json", encoding: .utf8)
        try registry.push(spec: spec, as: "test/rootfs", tag: "diff")
        let gzipLayout = try makeLayout(spec.replacingOccurrences(of: "\"zstd\"", with: "\"gzip\""), name: "gzip")
        let expected = try umociRootfs(gzipLayout, tag: "diff")

        let target = "\(work)/rootfs"
        let result = try runMbctl(["oci", "download", "--cache-dir", "\(work)/cache", "\(registry.host)/test/rootfs:diff", target])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(try compare(expected, target).succeeded)
        #expect(result.stdout.contains("unpacked docker://\(registry.host)/test/rootfs:diff"))
        // The cache is an image layout holding the blobs.
        _ = try ImageLayout.open(at: "\(work)/cache")
        let blobs = try FileManager.default.contentsOfDirectory(atPath: "\(work)/cache/blobs/sha256")
        #expect(blobs.count == 5)
    }

    @Test func refusesAWrongDiffIDAndLeavesNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let badID = "sha256:" + String(repeating: "0", count: 64)
        let spec = """
            {"tag": "bad", "images": [{"platform": "linux/amd64", "layers": [
              {"entries": [{"path": "ok", "content": "fine"}]},
              {"diff_id": "\(badID)", "entries": [{"path": "file", "content": "x"}]}]}]}
            """
        let layout = try makeLayout(spec, name: "bad")
        let target = "\(work)/rootfs"
        let result = try runMbctl(["oci", "download", "oci:\(layout):bad", target])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("diff_id"))
        #expect(result.stderr.contains(badID))
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(siblings(of: target).isEmpty)
    }

    @Test func refusesALayerNotCompressedAsItsMediaTypeSays() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let spec = """
            {"tag": "bad", "images": [{"platform": "linux/amd64", "layers": [
              {"compression": "none", "media_type_compression": "gzip", "entries": [{"path": "file", "content": "x"}]}]}]}
            """
        let layout = try makeLayout(spec, name: "mislabelled")
        let target = "\(work)/rootfs"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let result = try runMbctl(["oci", "download", "oci:\(layout):bad", target])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("is uncompressed, but its media type says gzip"), "\(result.stderr)")
        // The empty directory the user made is still there, still empty.
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
        #expect(siblings(of: target).isEmpty)
    }

    @Test func refusesATargetThatIsNotEmpty() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let layout = try makeLayout(ImageSpecs.small, name: "small")
        let target = "\(work)/occupied"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try "mine".write(toFile: "\(target)/keep", atomically: true, encoding: .utf8)
        let result = try runMbctl(["oci", "download", "oci:\(layout):small", target])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("\(target) exists and is not an empty directory"))
        #expect(try String(contentsOfFile: "\(target)/keep", encoding: .utf8) == "mine")
    }

    @Test func unpacksRootlessAsAnUnprivilegedUser() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        chmod(work, 0o755)
        let spec = try String(contentsOfFile: "\(TestPaths.fixtures)/differential-image.json", encoding: .utf8)
        let layout = try makeLayout(spec, name: "rootless")
        try runCommand(["chmod", "-R", "a+rX", layout])
        let parent = "\(work)/nobody"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        chown(parent, 65534, 65534)
        let result = try runCommand(
            [
                "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", TestPaths.mbctl, "oci", "download", "oci:\(layout):diff",
                "\(parent)/rootfs",
            ],
            environment: mbctlEnvironment(), check: false)
        #expect(result.succeeded, "\(result.stderr)")
        // Owners other than nobody, the two device nodes and security.capability could not be made.
        #expect(result.stdout.contains("rootless:"), "\(result.stdout)")
        #expect(result.stdout.contains("2 devices and 1 xattrs skipped"), "\(result.stdout)")
        #expect(FileManager.default.fileExists(atPath: "\(parent)/rootfs/bin/busybox"))
        #expect(!FileManager.default.fileExists(atPath: "\(parent)/rootfs/dev/null"))
    }

    @Test func appliesEachLayerWhileLaterOnesStillDownload() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let spec = """
            {"tag": "stream", "images": [{"platform": "linux/amd64", "layers": [
              {"entries": [{"path": "first", "content": "small layer"}]},
              {"compression": "none", "entries": [{"path": "second.bin", "type": "random", "size": \(20 << 20), "seed": 9}]}]}]}
            """
        try registry.push(spec: spec, as: "test/stream", tag: "stream")
        let target = "\(work)/rootfs"
        let result = try runMbctl(["oci", "download", "--limit-rate", "8000000", "--cache-dir", "\(work)/cache", "\(registry.host)/test/stream:stream", target])
        #expect(result.succeeded, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        let applied = lines.firstIndex { $0.hasPrefix("applied layer 1/2") }
        #expect(applied != nil, "\(result.stderr)")
        // The last "stored" line (the large layer) comes after layer 1 was applied.
        let lastStored = lines.lastIndex { $0.hasPrefix("stored") }
        #expect((applied ?? .max) < (lastStored ?? .min), "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(target)/second.bin"))
    }

    @Test func appliesALayerWhileItsOwnBytesArrive() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        // One uncompressed layer: a small file first, then 24 MiB, pulled at 6 MB/s.
        let spec = """
            {"tag": "one", "images": [{"platform": "linux/amd64", "layers": [
              {"compression": "none", "entries": [{"path": "first", "content": "at the start of the layer"},
                                                  {"path": "big.bin", "type": "random", "size": \(24 << 20), "seed": 4}]}]}]}
            """
        try registry.push(spec: spec, as: "test/one", tag: "one")
        let target = "\(work)/rootfs"
        let pull = try BackgroundProcess(
            [TestPaths.mbctl, "oci", "download", "--limit-rate", "6000000", "--cache-dir", "\(work)/cache", "\(registry.host)/test/one:one", target],
            logPath: "\(work)/pull.log", environment: mbctlEnvironment())
        // The first file lands in the staging rootfs while the layer's partial download is
        // still in the cache's .ingest/.
        var sawItEarly = false
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && pull.process.isRunning && !sawItEarly {
            let staging = ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []).filter { $0.hasPrefix(".rootfs.mbctl-") }
            let partial = ((try? FileManager.default.contentsOfDirectory(atPath: "\(work)/cache/.ingest")) ?? []).filter { $0.hasPrefix("sha256-") }
            if let staging = staging.first, FileManager.default.fileExists(atPath: "\(work)/\(staging)/first"), !partial.isEmpty {
                sawItEarly = true
            }
            usleep(10_000)
        }
        try pull.waitForExit()
        #expect(pull.process.terminationStatus == 0, "\(pull.log)")
        #expect(sawItEarly, "the layer was not applied while it downloaded")
        #expect(FileManager.default.fileExists(atPath: "\(target)/big.bin"))
    }

    @Test func ctrlCLeavesNoStagingDirectory() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let spec = """
            {"tag": "slow", "images": [{"platform": "linux/amd64", "layers": [
              {"compression": "none", "entries": [{"path": "big.bin", "type": "random", "size": \(24 << 20), "seed": 6}]}]}]}
            """
        try registry.push(spec: spec, as: "test/slow", tag: "slow")
        let target = "\(work)/rootfs"
        let pull = try BackgroundProcess(
            [TestPaths.mbctl, "oci", "download", "--limit-rate", "4000000", "--cache-dir", "\(work)/cache", "\(registry.host)/test/slow:slow", target],
            logPath: "\(work)/pull.log", environment: mbctlEnvironment())
        // Interrupted while the layer streams into the staging rootfs.
        let deadline = Date().addingTimeInterval(60)
        func staging() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []).filter { $0.hasPrefix(".rootfs.mbctl-") } }
        while Date() < deadline && pull.process.isRunning
            && !(staging().first.map { FileManager.default.fileExists(atPath: "\(work)/\($0)/big.bin") } ?? false)
        {
            usleep(10_000)
        }
        kill(pull.process.processIdentifier, SIGINT)
        try pull.waitForExit()
        #expect(!pull.process.endedBySignal && pull.process.terminationStatus != 0, "\(pull.log)")
        #expect(staging().isEmpty, "\(staging())")
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}
