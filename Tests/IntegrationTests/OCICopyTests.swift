import Foundation
import OCILayout
import Testing

/// `mbctl oci copy` against a real docker-registry, checked with skopeo and umoci as oracles.
@Suite(.serialized, .timeLimit(.minutes(10))) struct OCICopyTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-copy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// The manifest tagged `tag` in the layout at `path`, decoded.
    func manifest(in path: String, tag: String) throws -> (Descriptor, ImageManifest) {
        let layout = try ImageLayout.open(at: path)
        let descriptor = try layout.resolve(tag: tag)
        let data = try layout.store.read(descriptor, limit: 1 << 20)
        return (descriptor, try JSONDecoder().decode(ImageManifest.self, from: data))
    }

    @Test func copiesAMultiLayerImageThatSkopeoAndUmociAccept() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let pushed = try registry.push(spec: ImageSpecs.multiLayer, as: "test/multi", tag: "v1")

        let layoutPath = "\(work)/layout"
        let result = try runMbctl(["oci", "copy", "docker://\(registry.host)/test/multi:v1", "oci:\(layoutPath):v1"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(result.stdout.contains(pushed))

        let (descriptor, manifest) = try manifest(in: layoutPath, tag: "v1")
        #expect(descriptor.digest.description == pushed)
        #expect(descriptor.platform == Platform(os: "linux", architecture: "amd64"))
        #expect(manifest.layers.count == 3)
        // Every blob byte-identical to what the registry stores.
        for blob in [manifest.config] + manifest.layers + [descriptor] {
            let ours = try Data(contentsOf: URL(fileURLWithPath: "\(layoutPath)/blobs/sha256/\(blob.digest.encoded)"))
            let theirs = try Data(contentsOf: URL(fileURLWithPath: registry.blobDataPath(blob.digest.encoded)))
            #expect(ours == theirs, "blob \(blob.digest)")
        }
        let inspected = try runCommand(["skopeo", "inspect", "oci:\(layoutPath):v1"]).stdout
        #expect(inspected.contains(pushed))
        let stat = try runCommand(["umoci", "stat", "--image", "\(layoutPath):v1", "--json"]).stdout
        #expect(stat.contains("make-image.py"))
        #expect(!FileManager.default.fileExists(atPath: "\(layoutPath)/.ingest"))

        // A second copy finds every blob present and fetches none.
        let again = try runMbctl(["oci", "copy", "docker://\(registry.host)/test/multi:v1", "oci:\(layoutPath):again"])
        #expect(again.succeeded, "\(again.stderr)")
        #expect(again.stderr.components(separatedBy: "already have").count - 1 == 4)
        #expect(!again.stderr.contains("fetching"))
        #expect(try ImageLayout.open(at: layoutPath).tags().sorted() == ["again", "v1"])
    }

    @Test func choosesThePlatformOfAnIndex() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let indexDigest = try registry.push(spec: ImageSpecs.multiPlatform, as: "test/multiarch", tag: "multi")
        let indexData = try Data(contentsOf: URL(fileURLWithPath: registry.blobDataPath(String(indexDigest.dropFirst(7)))))
        let index = try JSONDecoder().decode(ImageIndex.self, from: indexData)

        for (flag, arch, variant, content) in [
            ("linux/arm64", "arm64", "v8", "arm64"), ("linux/arm/v7", "arm", "v7", "armv7"), ("linux/amd64", "amd64", nil, "amd64"),
        ] {
            let path = "\(work)/\(arch)"
            let result = try runMbctl(["oci", "copy", "--platform", flag, "\(registry.host)/test/multiarch:multi", "oci:\(path)"])
            #expect(result.succeeded, "\(result.stderr)")
            let (descriptor, manifest) = try manifest(in: path, tag: "multi")
            let entry = index.manifests.first { $0.platform?.architecture == arch }
            #expect(descriptor.digest == entry?.digest)
            #expect(descriptor.platform?.variant == variant)
            let layer = try Data(contentsOf: URL(fileURLWithPath: "\(path)/blobs/sha256/\(manifest.layers[0].digest.encoded)"))
            let listing = try runCommand(["sh", "-c", "gzip -dc < '\(path)/blobs/sha256/\(manifest.layers[0].digest.encoded)' | tar -xOf - arch"]).stdout
            #expect(listing == content, "layer of \(flag), \(layer.count) bytes")
            let inspected = try runCommand(["skopeo", "inspect", "oci:\(path):multi"]).stdout
            #expect(inspected.contains("\"Architecture\": \"\(arch)\""))
            try runCommand(["umoci", "stat", "--image", "\(path):multi", "--json"])
        }

        let missing = try runMbctl(["oci", "copy", "--platform", "linux/s390x", "\(registry.host)/test/multiarch:multi", "oci:\(work)/none"])
        #expect(!missing.succeeded)
        #expect(missing.stderr.contains("no image for linux/s390x"))
        #expect(missing.stderr.contains("linux/amd64, linux/arm64/v8, linux/arm/v7"))
    }

    /// The blobs of a layout, by name, with their bytes.
    func blobs(of layout: String) throws -> [String: Data] {
        var found: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(layout)/blobs/sha256") {
            found[name] = try Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(name)"))
        }
        return found
    }

    @Test func copiesEveryPlatformUnderTheIndexDigestSkopeoKeeps() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let indexDigest = try registry.push(spec: ImageSpecs.multiPlatform, as: "test/all", tag: "multi")
        let cache = ["--cache-dir", "\(work)/host/var/tmp/man8s"]

        let ours = "\(work)/ours"
        let copied = try runMbctl(["oci", "copy", "--all", "docker://\(registry.host)/test/all:multi", "oci:\(ours)"] + cache)
        #expect(copied.succeeded, "\(copied.stderr)")
        #expect(copied.stdout.contains("\(indexDigest), 3 manifests"), "\(copied.stdout)")
        let theirs = "\(work)/theirs"
        try runCommand(
            ["skopeo", "copy", "--all", "--quiet"] + registry.skopeoSourceOptions + ["docker://\(registry.host)/test/all:multi", "oci:\(theirs):multi"])

        let ourEntry = try ImageLayout.open(at: ours).resolve(tag: "multi")
        let theirEntry = try ImageLayout.open(at: theirs).resolve(tag: "multi")
        #expect(ourEntry.digest.description == indexDigest)
        #expect(ourEntry.digest == theirEntry.digest && ourEntry.mediaType == theirEntry.mediaType && ourEntry.size == theirEntry.size)
        // The same blobs, byte for byte: the index, three manifests, three configs, their layers.
        let ourBlobs = try blobs(of: ours)
        #expect(ourBlobs == (try blobs(of: theirs)))
        #expect(ourBlobs.count >= 7)
        // Every platform can be taken from the copy, as from the registry.
        for platform in ["linux/arm64", "linux/arm/v7", "linux/amd64"] {
            let fromCopy = try runMbctl(["oci", "inspect", "--platform", platform, "oci:\(ours):multi"] + cache)
            let fromRegistry = try runMbctl(["oci", "inspect", "--platform", platform, "docker://\(registry.host)/test/all:multi"] + cache)
            #expect(fromCopy.succeeded && fromCopy.stdout.contains("Digest:"), "\(fromCopy.stderr)")
            #expect(
                fromCopy.stdout.split(separator: "\n").first { $0.hasPrefix("Digest:") }
                    == fromRegistry.stdout.split(separator: "\n").first { $0.hasPrefix("Digest:") })
        }

        // An oci-archive holds the whole index too; skopeo reads it back under the same digest,
        // and so does mbctl.
        let archive = "\(work)/all.tar"
        let archived = try runMbctl(["oci", "copy", "--all", "docker://\(registry.host)/test/all:multi", "oci-archive:\(archive):multi"] + cache)
        #expect(archived.succeeded, "\(archived.stderr)")
        try runCommand(["skopeo", "copy", "--all", "--quiet", "oci-archive:\(archive):multi", "oci:\(work)/unpacked:multi"])
        #expect(try ImageLayout.open(at: "\(work)/unpacked").resolve(tag: "multi").digest.description == indexDigest)
        #expect(try blobs(of: "\(work)/unpacked") == ourBlobs)
        let back = try runMbctl(["oci", "copy", "--all", "oci-archive:\(archive):multi", "oci:\(work)/back"] + cache)
        #expect(back.succeeded, "\(back.stderr)")
        #expect(try blobs(of: "\(work)/back") == ourBlobs)
        // The cache names the index it holds, with all of its blobs.
        let listed = try runMbctl(["cache", "list", "--json", "--root", "\(work)/host"])
        #expect(listed.stdout.contains(indexDigest), "\(listed.stdout)")

        // Without an index, --all copies the one manifest whatever its platform.
        let single = try registry.push(spec: ImageSpecs.multiLayer, as: "test/single", tag: "v1")
        let one = try runMbctl(["oci", "copy", "--all", "--platform", "linux/s390x", "docker://\(registry.host)/test/single:v1", "oci:\(work)/single"] + cache)
        #expect(one.succeeded, "\(one.stderr)")
        #expect(try ImageLayout.open(at: "\(work)/single").resolve(tag: "v1").digest.description == single)
    }

    @Test func refusesABlobWhoseBytesDoNotMatchItsDigest() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.multiLayer, as: "test/corrupt", tag: "v1")
        // Find the zstd layer and flip bytes in the registry's copy, keeping its size.
        let good = "\(work)/good"
        #expect(try runMbctl(["oci", "copy", "\(registry.host)/test/corrupt:v1", "oci:\(good)"]).succeeded)
        let (_, manifest) = try manifest(in: good, tag: "v1")
        let victim = manifest.layers[1].digest
        let path = registry.blobDataPath(victim.encoded)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for offset in stride(from: 100, to: min(bytes.count, 5000), by: 97) { bytes[offset] ^= 0xFF }
        try bytes.write(to: URL(fileURLWithPath: path))

        let target = "\(work)/bad"
        let result = try runMbctl(["oci", "copy", "\(registry.host)/test/corrupt:v1", "oci:\(target)"])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("expected \(victim)"), "\(result.stderr)")
        // The layout this copy would have created is not left behind.
        #expect(!FileManager.default.fileExists(atPath: target))

        // Into an existing layout: the bad blob is not stored, and no tag names an image whose
        // blobs are not all there.
        let existing = "\(work)/existing"
        _ = try ImageLayout.openOrCreate(at: existing)
        let again = try runMbctl(["oci", "copy", "\(registry.host)/test/corrupt:v1", "oci:\(existing)"])
        #expect(!again.succeeded)
        #expect(!FileManager.default.fileExists(atPath: "\(existing)/blobs/sha256/\(victim.encoded)"))
        #expect(!FileManager.default.fileExists(atPath: "\(existing)/.ingest/sha256-\(victim.encoded)"))
        #expect(try ImageLayout.open(at: existing).tags().isEmpty)
    }

    @Test func namesWhatIsMissing() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let result = try runMbctl(["oci", "copy", "\(registry.host)/no/such:image", "oci:\(work)/x"])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("not found"))
        #expect(result.stderr.contains("no/such"))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/x"))
        let unreachable = try runMbctl(["oci", "copy", "--retry-times", "1", "127.0.0.1:1/x:y", "oci:\(work)/y"])
        #expect(!unreachable.succeeded)
        #expect(unreachable.stderr.contains("127.0.0.1:1"))
        let bad = try runMbctl(["oci", "copy", "Bad/Name", "oci:\(work)/z"])
        #expect(bad.stderr.contains("lower case"))
    }

    @Test func twoProcessesSharingALayoutDoNotCorruptIt() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.large(megabytes: 16), as: "test/shared", tag: "large")
        let layout = "\(work)/shared"
        let copies = try (1...3).map { index in
            try BackgroundProcess(
                [TestPaths.mbctl, "oci", "copy", "--limit-rate", "20000000", "\(registry.host)/test/shared:large", "oci:\(layout):tag\(index)"],
                logPath: "\(work)/copy\(index).log", environment: mbctlEnvironment())
        }
        for copy in copies {
            try copy.waitForExit()
            #expect(copy.process.terminationStatus == 0, "\(copy.log)")
        }
        let opened = try ImageLayout.open(at: layout)
        #expect(try opened.tags().sorted() == ["tag1", "tag2", "tag3"])
        let descriptor = try opened.resolve(tag: "tag2")
        let manifest = try JSONDecoder().decode(ImageManifest.self, from: opened.store.read(descriptor, limit: 1 << 20))
        for blob in [manifest.config] + manifest.layers {
            let data = try Data(contentsOf: URL(fileURLWithPath: opened.store.path(of: blob.digest)))
            #expect(Digest.sha256(of: data) == blob.digest)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(layout)/.ingest"))
    }

    @Test func inspectsAsSkopeoDoes() throws {
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.multiLayer, as: "test/inspect", tag: "v1")
        let image = "\(registry.host)/test/inspect:v1"
        let skopeo = try runCommand(["skopeo", "inspect", "--tls-verify=false", "docker://\(image)"]).stdout
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(skopeo.utf8)) as? [String: Any])
        let ours = try runMbctl(["oci", "inspect", "--json", "--cache-dir", "\(NSTemporaryDirectory())mbctl-inspect-\(UUID().uuidString)", image])
        #expect(ours.succeeded, "\(ours.stderr)")
        let inspected = try #require(try JSONSerialization.jsonObject(with: Data(ours.stdout.utf8)) as? [String: Any])
        #expect(inspected["Digest"] as? String == expected["Digest"] as? String)
        #expect(inspected["Env"] as? [String] == expected["Env"] as? [String])
        #expect(inspected["Architecture"] as? String == expected["Architecture"] as? String)
        #expect(inspected["Layers"] as? [String] == expected["Layers"] as? [String])
        #expect((inspected["Layers"] as? [String])?.count == 3)
        // Byte for byte, as the registry holds them.
        for flags in [["--raw"], ["--config", "--raw"]] {
            let theirs = try runCommand(["skopeo", "inspect", "--tls-verify=false"] + flags + ["docker://\(image)"]).stdout
            let mine = try runMbctl(["oci", "inspect"] + flags + ["--cache-dir", "\(NSTemporaryDirectory())mbctl-inspect-\(UUID().uuidString)", image]).stdout
            #expect(mine.trimmingCharacters(in: .whitespacesAndNewlines) == theirs.trimmingCharacters(in: .whitespacesAndNewlines), "\(flags)")
        }
    }
}
