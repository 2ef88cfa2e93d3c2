import Foundation
import Testing

/// `mbctl oci sync` against `skopeo sync` as the oracle: the same YAML list (two repositories,
/// tags and a tag regex, credentials and a CA for an htpasswd-protected TLS source) gives two
/// destination registries exactly the same tags at the same digests; a second run uploads nothing
/// (no PUT, PATCH or POST); `--src docker --scoped` names images as skopeo does.
@Suite(.serialized) struct SyncTests {
    static let user = "mirror", password = "pass word"

    /// The tags of every repository of `registry` and their digests.
    func contents(of registry: TestRegistry) throws -> [String: String] {
        let inside = registry.namespace.map { ["ip", "netns", "exec", $0] } ?? []
        let catalog = try runCommand(inside + ["curl", "-sf", "--max-time", "10", "http://\(registry.host)/v2/_catalog"]).stdout
        let repositories = (try JSONSerialization.jsonObject(with: Data(catalog.utf8)) as? [String: [String]])?["repositories"] ?? []
        var found: [String: String] = [:]
        for repository in repositories {
            let list = try runCommand(inside + ["curl", "-sf", "--max-time", "10", "http://\(registry.host)/v2/\(repository)/tags/list"]).stdout
            let tags = (try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [String: Any])?["tags"] as? [String] ?? []
            for tag in tags {
                let head = try runCommand(
                    inside + [
                        "curl", "-sfI", "--max-time", "10", "-H", "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
                        "http://\(registry.host)/v2/\(repository)/manifests/\(tag)",
                    ]
                ).stdout
                let digest = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("docker-content-digest:") }.map {
                    $0.dropFirst("docker-content-digest:".count).trimmingCharacters(in: .whitespaces)
                }
                found["\(repository):\(tag)"] = digest ?? "?"
            }
        }
        return found
    }

    /// Requests that write (PUT, PATCH, POST) in `registry`'s log.
    func writes(_ registry: TestRegistry) -> Int {
        registry.log.split(separator: "\n").filter { $0.contains("\"PUT /v2/") || $0.contains("\"PATCH /v2/") || $0.contains("\"POST /v2/") }.count
    }

    @Test func aListSyncsAsSkopeoSyncsItAndASecondRunUploadsNothing() throws {
        let work = NSTemporaryDirectory() + "mbctl-sync-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let source = try TestRegistry(security: .basicOverTLS(user: Self.user, password: Self.password))
        let bySkopeo = try TestRegistry(), byMbctl = try TestRegistry()

        // The source: team/app v1 v2 latest, team/tool 1.0.0 1.1.0 2.0.0 dev, each image distinct.
        let images: [(String, String)] = [
            ("team/app", "v1"), ("team/app", "v2"), ("team/app", "latest"), ("team/tool", "1.0.0"), ("team/tool", "1.1.0"), ("team/tool", "2.0.0"),
            ("team/tool", "dev"),
        ]
        for (repository, tag) in images {
            let spec = """
                {"tag": "\(tag)", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/sh"]},
                  "layers": [{"entries": [{"path": "version", "content": "\(repository) \(tag)\\n"}]}]}]}
                """
            let directory = "\(work)/\(repository.replacingOccurrences(of: "/", with: "-"))-\(tag)"
            try spec.write(toFile: "\(directory).json", atomically: true, encoding: .utf8)
            try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(directory).json", directory])
            try runCommand([
                "skopeo", "copy", "--quiet", "--dest-cert-dir", source.certDirectory, "--dest-creds", "\(Self.user):\(Self.password)",
                "oci:\(directory):\(tag)", "docker://\(source.host)/\(repository):\(tag)",
            ])
        }
        let list = "\(work)/mirror.yaml"
        try """
        \(source.host):
          images:
            team/app: ["v1", "latest"]
          images-by-tag-regex:
            team/tool: ^1\\.
          credentials:
            username: \(Self.user)
            password: \(Self.password)
          cert-dir: \(source.certDirectory)
        """.write(toFile: list, atomically: true, encoding: .utf8)

        try runCommand(["skopeo", "sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", list, "\(bySkopeo.host)/mirror"], deadline: 300)
        let synced = try runMbctl(["oci", "sync", "--src", "yaml", list, "\(byMbctl.host)/mirror"], deadline: 300)
        #expect(synced.succeeded, "\(synced.stderr)")
        #expect(synced.stdout.contains("4 copied, 0 skipped, 0 failed"), "\(synced.stdout)")
        let expected = try contents(of: bySkopeo)
        #expect(expected.keys.sorted() == ["mirror/app:latest", "mirror/app:v1", "mirror/tool:1.0.0", "mirror/tool:1.1.0"], "\(expected)")
        #expect(try contents(of: byMbctl) == expected)

        let writesBefore = writes(byMbctl)
        let again = try runMbctl(["oci", "sync", "--src", "yaml", list, "\(byMbctl.host)/mirror"], deadline: 300)
        #expect(again.succeeded && again.stdout.contains("0 copied, 4 skipped, 0 failed"), "\(again.stdout)\(again.stderr)")
        #expect(writes(byMbctl) == writesBefore, "the second run wrote to the registry")

        // A repository as the source, scoped: the images keep their whole name under DEST. A
        // registry with a port cannot be named so (skopeo and mbctl both refuse "host:port" as a
        // part of a name), so this source listens on port 80, in a namespace of the test's.
        let namespace = "mbctl-sync-\(UUID().uuidString.prefix(8).lowercased())"
        try runCommand(["ip", "netns", "add", namespace])
        defer { _ = try? runCommand(["ip", "netns", "delete", namespace], check: false) }
        try runCommand(["ip", "-n", namespace, "link", "set", "lo", "up"])
        let inside = ["ip", "netns", "exec", namespace]
        let origin = try TestRegistry(namespace: namespace, port: 80)
        let scopedBySkopeo = try TestRegistry(namespace: namespace), scopedByMbctl = try TestRegistry(namespace: namespace)
        for tag in ["1.0.0", "1.1.0"] {
            try runCommand(
                inside + ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "oci:\(work)/team-tool-\(tag):\(tag)", "docker://127.0.0.1/team/tool:\(tag)"])
        }
        let oracle = try runCommand(
            inside + [
                "skopeo", "sync", "--src", "docker", "--dest", "docker", "--scoped", "--src-tls-verify=false", "--dest-tls-verify=false",
                "\(origin.host)/team/tool", "\(scopedBySkopeo.host)/scoped",
            ], check: false)
        #expect(oracle.succeeded, "\(oracle.stderr)")
        let scoped = try runCommand(
            inside + [TestPaths.mbctl, "oci", "sync", "--src", "docker", "--scoped", "\(origin.host)/team/tool", "\(scopedByMbctl.host)/scoped"], check: false,
            deadline: 300)
        #expect(scoped.succeeded, "\(scoped.stderr)")
        let skopeoScoped = try contents(of: scopedBySkopeo)
        #expect(skopeoScoped.keys.sorted() == ["scoped/127.0.0.1/team/tool:1.0.0", "scoped/127.0.0.1/team/tool:1.1.0"], "\(skopeoScoped)")
        #expect(try contents(of: scopedByMbctl) == skopeoScoped)

        // An unreachable source: one line, non-zero.
        let unreachable = try runMbctl(["oci", "sync", "--quiet", "--src", "docker", "127.0.0.1:9/nothing/here", "\(byMbctl.host)/x"], deadline: 120)
        #expect(!unreachable.succeeded && unreachable.stderr.split(separator: "\n").count == 1, "\(unreachable.stderr)")
    }

    @Test func aLayoutSyncsIntoLayoutsAndSkipsWhatIsThere() throws {
        let work = NSTemporaryDirectory() + "mbctl-sync-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try """
        {"tag": "v1", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/sh"]}, "layers": [{"entries": [{"path": "v", "content": "1\\n"}]}]}]}
        """.write(toFile: "\(work)/app.json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/app.json", "\(work)/app"])
        try runCommand(["skopeo", "copy", "--quiet", "oci:\(work)/app:v1", "oci:\(work)/app:v2"])
        let first = try runMbctl(["oci", "sync", "--src", "oci", "--dest", "oci", "\(work)/app", "\(work)/mirror"])
        #expect(first.succeeded && first.stdout.contains("2 copied, 0 skipped, 0 failed"), "\(first.stdout)\(first.stderr)")
        let index = try String(contentsOfFile: "\(work)/mirror/app/index.json", encoding: .utf8)
        #expect(index.contains("\"v1\"") && index.contains("\"v2\""), "\(index)")
        let second = try runMbctl(["oci", "sync", "--src", "oci", "--dest", "oci", "\(work)/app", "\(work)/mirror"])
        #expect(second.succeeded && second.stdout.contains("0 copied, 2 skipped, 0 failed"), "\(second.stdout)\(second.stderr)")
    }
}
