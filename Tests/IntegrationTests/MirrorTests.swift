import Foundation
import Testing

/// registries.conf mirrors with real registries on loopback: an origin, a docker-registry in
/// proxy mode in front of it (a pull-through cache), and a stale mirror holding other content
/// under the same tag.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MirrorTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-mirrors-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: work) }

    static func image(_ word: String) -> String {
        """
        {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"]},
          "layers": [{"entries": [{"path": "word", "content": "\(word)"}]}]}]}
        """
    }

    func writeConfiguration(_ text: String) throws -> String {
        let path = "\(work)/registries-\(UUID().uuidString.prefix(6)).conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `oci download` of `image` with registries.conf `configuration` and a cold cache.
    func download(_ image: String, _ configuration: String, _ extra: [String] = []) throws -> (CommandResult, String) {
        let target = "\(work)/rootfs-\(UUID().uuidString.prefix(6))"
        let result = try runMbctl(
            [
                "oci", "download", "--registries-conf", configuration, "--retry-times", "1",
                "--cache-dir", "\(work)/cache-\(UUID().uuidString.prefix(6))", image, target,
            ] + extra)
        return (result, (try? String(contentsOfFile: "\(target)/word", encoding: .utf8)) ?? "")
    }

    @Test func pullsThroughAPullThroughCacheAndNeverTakesAStaleTag() throws {
        defer { cleanUp() }
        let origin = try TestRegistry()
        let digest = try origin.push(spec: Self.image("origin"), as: "apps/mirrored", tag: "t")
        let proxy = try TestRegistry(security: .proxy(upstream: origin.host))
        let stale = try TestRegistry()
        let staleDigest = try stale.push(spec: Self.image("stale"), as: "apps/mirrored", tag: "t")
        #expect(staleDigest != digest)
        let configuration = try writeConfiguration(
            """
            [[registry]]
            prefix = "\(origin.host)"
            location = "\(origin.host)"

            [[registry.mirror]]
            location = "\(stale.host)"
            pull-from-mirror = "digest-only"

            [[registry.mirror]]
            location = "\(proxy.host)"
            """)
        let image = "\(origin.host)/apps/mirrored:t"

        let (first, word) = try download(image, configuration)
        #expect(first.succeeded, "\(first.stderr)")
        #expect(word == "origin")
        #expect(first.stdout.contains(digest), "\(first.stdout)")
        #expect(first.stderr.contains("\(image) comes from \(proxy.host)/apps/mirrored:t (a mirror"), "\(first.stderr)")
        // A digest-only mirror is never asked for a tag.
        #expect(!stale.log.contains("GET /v2/apps/mirrored/manifests/t ") && !stale.log.contains("HEAD /v2/apps/mirrored/manifests/t "), "\(stale.log)")
        // skopeo reads the same registries.conf and agrees.
        let skopeo = try runCommand(["skopeo", "inspect", "--tls-verify=false", "--registries-conf", configuration, "docker://\(image)"]).stdout
        #expect(skopeo.contains("\"Digest\": \"\(digest)\""), "\(skopeo)")

        // The origin is gone: the pull-through cache alone serves the image (cold local cache).
        origin.stop()
        let (alone, again) = try download(image, configuration)
        #expect(alone.succeeded, "\(alone.stderr)")
        #expect(again == "origin")

        // By digest the stale mirror is asked first; it does not have this digest, the proxy does.
        let (byDigest, pinned) = try download("\(origin.host)/apps/mirrored@\(digest)", configuration)
        #expect(byDigest.succeeded, "\(byDigest.stderr)")
        #expect(pinned == "origin")
        #expect(stale.log.contains("GET /v2/apps/mirrored/manifests/\(digest)"), "\(stale.log)")
    }

    @Test func aMirrorThatIsDownFallsBackToThePrimary() throws {
        defer { cleanUp() }
        let origin = try TestRegistry()
        try origin.push(spec: Self.image("origin"), as: "apps/fallback", tag: "t")
        let closed = try freeLoopbackPort()
        let configuration = try writeConfiguration(
            """
            [[registry]]
            location = "\(origin.host)"
            [[registry.mirror]]
            location = "127.0.0.1:\(closed)"
            """)
        let (result, word) = try download("\(origin.host)/apps/fallback:t", configuration)
        #expect(result.succeeded, "\(result.stderr)")
        #expect(word == "origin")
        #expect(!result.stderr.contains("comes from"))
    }

    @Test func aMirrorGetsItsOwnCredentialsAndNeverThePrimarys() throws {
        defer { cleanUp() }
        let origin = try TestRegistry()
        try origin.push(spec: Self.image("origin"), as: "apps/private", tag: "t")
        let mirror = try TestRegistry(security: .basicOverTLS(user: "mirroruser", password: "mirror-secret"))
        try mirror.push(spec: Self.image("origin"), as: "apps/private", tag: "t")
        // The mirror's CA where the containers tools look for it, below --root.
        let root = "\(work)/root"
        try FileManager.default.createDirectory(atPath: "\(root)/etc/containers/certs.d/\(mirror.host)", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(mirror.certDirectory)/ca.crt", toPath: "\(root)/etc/containers/certs.d/\(mirror.host)/ca.crt")
        let credentials = Data("mirroruser:mirror-secret".utf8).base64EncodedString()
        try #"{"auths": {"\#(mirror.host)": {"auth": "\#(credentials)"}}}"#.write(toFile: "\(work)/auth.json", atomically: true, encoding: .utf8)
        let configuration = try writeConfiguration(
            """
            [[registry]]
            location = "\(origin.host)"
            [[registry.mirror]]
            location = "\(mirror.host)"
            """)
        let (result, word) = try download(
            "\(origin.host)/apps/private:t", configuration,
            ["--root", root, "--creds", "primaryuser:primary-secret", "--authfile", "\(work)/auth.json"])
        #expect(result.succeeded, "\(result.stderr)")
        #expect(word == "origin")
        #expect(result.stderr.contains("comes from \(mirror.host)/apps/private:t (a mirror"), "\(result.stderr)")
        #expect(mirror.log.contains("mirroruser"), "\(mirror.log)")
        #expect(!mirror.log.contains("primaryuser"), "the primary's credentials reached the mirror")
    }

    @Test func aBlockedRegistryIsRefused() throws {
        defer { cleanUp() }
        let configuration = try writeConfiguration(
            """
            [[registry]]
            prefix = "blocked.example/team"
            blocked = true
            """)
        let (result, _) = try download("blocked.example/team/app:1", configuration)
        #expect(result.stderr.contains("blocked.example is blocked by registries.conf (the [[registry]] for blocked.example/team)"), "\(result.stderr)")
    }
}
