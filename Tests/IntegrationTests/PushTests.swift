import Foundation
import OCILayout
import Testing

/// `mbctl oci copy SRC docker://…`: pushes to a real docker-registry, with skopeo as the oracle
/// and the registry's access log as the witness of what went over the wire.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PushTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-push-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// Access-log lines of `registry` that hold `text` (method and path, as `"PUT /v2/…`), once
    /// there are `expected` of them: the registry logs a request just after answering it, so
    /// the last line may land a moment after mbctl exits. Gives up after 10 seconds.
    func requests(_ registry: TestRegistry, _ text: String, expected: Int) -> Int {
        let deadline = Date().addingTimeInterval(10)
        while true {
            let count = registry.log.split(separator: "\n").filter { $0.contains(text) }.count
            if count >= expected || Date() > deadline { return count }
            usleep(20_000)
        }
    }

    @Test func pushesAnArchiveUnderItsDigestThenSkipsAndMounts() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let origin = try TestRegistry()
        let digest = try origin.push(spec: ImageSpecs.multiLayer, as: "test/src", tag: "v1")
        let cache = ["--cache-dir", "\(work)/cache"]
        let archive = "\(work)/carried.tar"
        let saved = try runMbctl(["oci", "copy", "docker://\(origin.host)/test/src:v1", "oci-archive:\(archive)"] + cache)
        #expect(saved.succeeded, "\(saved.stderr)")

        // A site registry seeded from the archive, with an empty cache as on another host.
        let site = try TestRegistry()
        let pushed = try runMbctl(["oci", "copy", "oci-archive:\(archive)", "docker://\(site.host)/site/app:1.0", "--cache-dir", "\(work)/other-cache"])
        #expect(pushed.succeeded, "\(pushed.stderr)")
        #expect(pushed.stdout.contains("\(digest), 3 layers; blobs: 4 uploaded"), "\(pushed.stdout)")
        #expect(try site.manifestDigest("site/app:1.0") == digest)
        #expect(requests(site, "\"PUT /v2/site/app/blobs/uploads/", expected: 4) == 4)
        #expect(requests(site, "\"PUT /v2/site/app/manifests/1.0", expected: 1) == 1)
        // skopeo reads it back, every blob verified, under the same digest.
        let inspected = try runCommand(["skopeo", "inspect", "--tls-verify=false", "docker://\(site.host)/site/app:1.0"]).stdout
        #expect(inspected.contains("\"Digest\": \"\(digest)\""))
        try runCommand(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://\(site.host)/site/app:1.0", "oci:\(work)/check:x"])
        #expect(try ImageLayout.open(at: "\(work)/check").resolve(tag: "x").digest.description == digest)

        // Again: every blob is there (HEAD), nothing is uploaded.
        let again = try runMbctl(["oci", "copy", "oci-archive:\(archive)", "docker://\(site.host)/site/app:1.0"] + cache)
        #expect(again.succeeded, "\(again.stderr)")
        #expect(again.stdout.contains("0 uploaded (0 B), 0 mounted, 4 already there"), "\(again.stdout)")
        #expect(requests(site, "\"PUT /v2/site/app/blobs/uploads/", expected: 4) == 4)

        // To another repository of the same registry: mounted, not uploaded, and not even
        // downloaded (a new cache): only the config is read, to choose the platform.
        let blobGets = requests(site, "\"GET /v2/site/app/blobs/sha256:", expected: 0)
        let mounted = try runMbctl([
            "oci", "copy", "docker://\(site.host)/site/app:1.0", "docker://\(site.host)/site/copy:1.0", "--cache-dir", "\(work)/mount-cache",
        ])
        #expect(mounted.succeeded, "\(mounted.stderr)")
        #expect(mounted.stdout.contains("0 uploaded (0 B), 4 mounted"), "\(mounted.stdout)")
        #expect(requests(site, "\"POST /v2/site/copy/blobs/uploads/?mount=sha256:", expected: 4) == 4)
        #expect(
            requests(site, "\"PUT /v2/site/copy/blobs/uploads/", expected: 0) == 0,
            "\(site.log.split(separator: "\n").filter { $0.contains("/v2/site/copy/blobs/uploads/") }.joined(separator: "\n"))")
        #expect(try site.manifestDigest("site/copy:1.0") == digest)
        #expect(requests(site, "\"GET /v2/site/app/blobs/sha256:", expected: blobGets + 1) == blobGets + 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(work)/mount-cache/blobs/sha256").count == 1)

        // In chunks: several PATCH requests per large blob, the same digest in the end.
        let chunked = try runMbctl(["oci", "copy", "--chunk-size", "262144", "oci-archive:\(archive)", "docker://\(site.host)/chunked/app:1.0"] + cache)
        #expect(chunked.succeeded, "\(chunked.stderr)")
        #expect(requests(site, "\"PATCH /v2/chunked/app/blobs/uploads/", expected: 3) >= 3)
        #expect(try site.manifestDigest("chunked/app:1.0") == digest)
        try runCommand(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://\(site.host)/chunked/app:1.0", "oci:\(work)/check:y"])

        // A bare name is not taken for a push to Docker Hub.
        let bare = try runMbctl(["oci", "copy", "oci-archive:\(archive)", "site/app:1.0"] + cache)
        #expect(!bare.succeeded)
        #expect(bare.stderr.contains("a push is written docker://REF"), "\(bare.stderr)")
    }

    @Test func pushesEveryPlatformUnderTheIndexDigest() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let origin = try TestRegistry()
        let indexDigest = try origin.push(spec: ImageSpecs.multiPlatform, as: "test/all", tag: "multi")
        let site = try TestRegistry()
        let pushed = try runMbctl([
            "oci", "copy", "--all", "docker://\(origin.host)/test/all:multi", "docker://\(site.host)/mirror/all:multi", "--cache-dir", "\(work)/cache",
        ])
        #expect(pushed.succeeded, "\(pushed.stderr)")
        #expect(pushed.stdout.contains("\(indexDigest), 3 manifests"), "\(pushed.stdout)")
        #expect(try site.manifestDigest("mirror/all:multi") == indexDigest)
        // The platform manifests went by digest before the index, under no tag of their own.
        #expect(requests(site, "\"PUT /v2/mirror/all/manifests/sha256:", expected: 3) == 3)
        let raw = try runCommand(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(site.host)/mirror/all:multi"]).stdout
        #expect(Digest.sha256(of: Data(raw.utf8)).description == indexDigest)
        try runCommand(["skopeo", "copy", "--all", "--quiet", "--src-tls-verify=false", "docker://\(site.host)/mirror/all:multi", "oci:\(work)/check:x"])

        // Within the registry, the whole index is mounted blob by blob, nothing downloaded.
        let blobGets = requests(site, "\"GET /v2/mirror/all/blobs/", expected: 0)
        let again = try runMbctl([
            "oci", "copy", "--all", "docker://\(site.host)/mirror/all:multi", "docker://\(site.host)/mirror/again:multi", "--cache-dir", "\(work)/mount-cache",
        ])
        #expect(again.succeeded, "\(again.stderr)")
        #expect(again.stdout.contains("\(indexDigest), 3 manifests"), "\(again.stdout)")
        #expect(again.stdout.contains("0 uploaded (0 B), 6 mounted, 0 already there"), "\(again.stdout)")
        #expect(try site.manifestDigest("mirror/again:multi") == indexDigest)
        #expect(requests(site, "\"GET /v2/mirror/all/blobs/", expected: blobGets) == blobGets)
    }

    @Test func pushesWithATokenForPullAndPushAndMountsWithBothScopes() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry(security: .token(user: "bob", password: "builder"))
        let digest = try registry.push(spec: ImageSpecs.multiLayer, as: "team/app", tag: "2")
        let cache = ["--cache-dir", "\(work)/cache"]

        let denied = try runMbctl(["oci", "copy", "docker://\(registry.host)/team/app:2", "docker://\(registry.host)/team/copy:2"] + cache)
        #expect(!denied.succeeded)
        #expect(denied.stderr.contains("unauthorized"), "\(denied.stderr)")

        let copied = try runMbctl(
            ["oci", "copy", "--creds", "bob:builder", "docker://\(registry.host)/team/app:2", "docker://\(registry.host)/team/copy:2"] + cache)
        #expect(copied.succeeded, "\(copied.stderr)")
        #expect(copied.stdout.contains("4 mounted"), "\(copied.stdout)")
        #expect(try registry.manifestDigest("team/copy:2") == digest)
        let tokens = (try? String(contentsOfFile: registry.tokenLog, encoding: .utf8)) ?? ""
        #expect(tokens.contains("\"repository:team/copy:pull,push\", \"repository:team/app:pull\""), "\(tokens)")
    }

    /// A chunk fails halfway (a proxy drops it and answers 503): the retry asks the registry
    /// where the upload stands and goes on from there, without starting the blob over.
    @Test func aChunkedPushThatFailsGoesOnWhereTheRegistryStands() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let origin = try TestRegistry()
        let digest = try origin.push(spec: ImageSpecs.multiLayer, as: "test/src", tag: "v1")
        let cache = ["--cache-dir", "\(work)/cache"]
        let saved = try runMbctl(["oci", "copy", "docker://\(origin.host)/test/src:v1", "oci-archive:\(work)/image.tar"] + cache)
        #expect(saved.succeeded, "\(saved.stderr)")
        let site = try TestRegistry()
        let port = try freeLoopbackPort()
        let logPath = "\(work)/proxy.log"
        let proxy = try BackgroundProcess(
            ["python3", "\(TestPaths.fixtures)/flaky-upload-proxy.py", "\(port)", site.host, logPath, "2"], logPath: "\(work)/proxy.out")
        defer { proxy.stop() }
        try waitForListener(port: port)

        // 128 KiB chunks: only the 700 kB layer is sent in chunks, so the second PATCH is its second chunk.
        let pushed = try runMbctl(
            ["oci", "copy", "--chunk-size", "131072", "oci-archive:\(work)/image.tar", "docker://127.0.0.1:\(port)/resumed/app:1"] + cache)
        #expect(pushed.succeeded, "\(pushed.stderr)\n\(proxy.log)")
        #expect(try site.manifestDigest("resumed/app:1") == digest)
        try runCommand(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://\(site.host)/resumed/app:1", "oci:\(work)/check:x"])

        struct Entry: Decodable {
            var method: String
            var path: String
            var range: String?
            var status: Int
        }
        let entries = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Entry.self, from: Data($0.utf8)) }
        let patches = entries.filter { $0.method == "PATCH" }
        #expect(patches.filter { $0.status == 503 }.map(\.range) == ["131072-262143"])
        #expect(entries.contains { $0.method == "GET" && $0.path.contains("/blobs/uploads/") && $0.status == 204 })
        // Each blob's upload started once; the layer's first chunk went once.
        #expect(entries.filter { $0.method == "POST" }.count == 4)
        #expect(patches.filter { $0.range?.hasPrefix("0-") == true }.count == 1)
        #expect(patches.filter { $0.range == "131072-262143" && $0.status == 202 }.count == 1)
    }
}
