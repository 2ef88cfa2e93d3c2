import Foundation
import Testing

/// What a registry or a layout can send that must neither hang nor crash mbctl, nor lure its
/// credentials: endless error pages, documents that trickle, token realms over plain HTTP,
/// descriptors with impossible sizes. mbctl runs under `timeout`, so a hang fails the test
/// instead of stopping the suite.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HostileRegistryTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-hostile-registry-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: work) }

    /// mbctl with a minute to live: exit status 124 means it hung.
    func mbctl(_ arguments: [String]) throws -> CommandResult {
        try runCommand(["/usr/bin/timeout", "60", TestPaths.mbctl] + arguments, environment: mbctlEnvironment(), check: false)
    }

    func start(_ mode: String, port: Int, log: String, realm: String = "", tls: (cert: String, key: String)? = nil) throws -> BackgroundProcess {
        var arguments = ["python3", "\(TestPaths.fixtures)/misbehaving-registry.py", mode, "\(port)", log, realm]
        if let tls { arguments += [tls.cert, tls.key] }
        let server = try BackgroundProcess(arguments, logPath: "\(log).out")
        try waitForListener(port: port)
        return server
    }

    func requests(_ log: String) -> [(path: String, auth: Bool)] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (object["path"] as? String ?? "", object["auth"] as? Bool ?? false)
        }
    }

    @Test func anEndlessErrorPageIsCutShort() throws {
        defer { cleanUp() }
        let port = try freeLoopbackPort()
        let server = try start("endless-error", port: port, log: "\(work)/requests.log")
        defer { server.stop() }
        let result = try mbctl(["oci", "copy", "--retry-times", "1", "127.0.0.1:\(port)/a/b:t", "oci:\(work)/layout"])
        #expect(result.status != 124, "mbctl hung on an endless error body")
        #expect(result.stderr.contains("manifest a/b:t not found (http://127.0.0.1:\(port)/v2/a/b/manifests/t)"), "\(result.stderr)")
    }

    @Test func aDocumentThatTricklesRunsIntoTheDeadline() throws {
        defer { cleanUp() }
        let port = try freeLoopbackPort()
        let server = try start("slow-manifest", port: port, log: "\(work)/requests.log")
        defer { server.stop() }
        let result = try mbctl(["oci", "copy", "--retry-times", "1", "--request-timeout", "3", "127.0.0.1:\(port)/a/b:t", "oci:\(work)/layout"])
        #expect(result.status != 124, "mbctl hung on a trickling manifest")
        #expect(result.stderr.contains("timed out"), "\(result.stderr)")
    }

    @Test func credentialsNeverGoToAPlainHTTPRealmOfAnHTTPSRegistry() throws {
        defer { cleanUp() }
        try runCommand([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "\(work)/tls.key", "-out", "\(work)/tls.crt",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        try FileManager.default.createDirectory(atPath: "\(work)/certs", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(work)/tls.crt", toPath: "\(work)/certs/ca.crt")
        let tokenPort = try freeLoopbackPort(), registryPort = try freeLoopbackPort()
        let tokens = try start("token-server", port: tokenPort, log: "\(work)/tokens.log")
        defer { tokens.stop() }
        // An HTTPS registry that sends clients to a plain-HTTP realm on the same host.
        let registry = try start(
            "token-realm", port: registryPort, log: "\(work)/registry.log", realm: "http://127.0.0.1:\(tokenPort)/token",
            tls: ("\(work)/tls.crt", "\(work)/tls.key"))
        defer { registry.stop() }
        let result = try mbctl([
            "oci", "copy", "--creds", "user:secret", "--cert-dir", "\(work)/certs", "127.0.0.1:\(registryPort)/a/b:t", "oci:\(work)/layout",
        ])
        #expect(!result.succeeded)
        #expect(
            result.stderr.contains("sends mbctl for tokens to http://127.0.0.1:\(tokenPort)/token, but it is plain HTTP while the registry speaks HTTPS"),
            "\(result.stderr)")
        #expect(requests("\(work)/tokens.log").isEmpty, "the token server was asked")
    }

    @Test func credentialsNeverGoOverPlainHTTPToAnotherHost() throws {
        defer { cleanUp() }
        let tokenPort = try freeLoopbackPort(), registryPort = try freeLoopbackPort()
        let tokens = try start("token-server", port: tokenPort, log: "\(work)/tokens.log")
        defer { tokens.stop() }
        // A plain-HTTP loopback registry whose realm is on another host name.
        let registry = try start("token-realm", port: registryPort, log: "\(work)/registry.log", realm: "http://localhost:\(tokenPort)/token")
        defer { registry.stop() }
        let withCredentials = try mbctl(["oci", "copy", "--creds", "user:secret", "127.0.0.1:\(registryPort)/a/b:t", "oci:\(work)/layout"])
        #expect(withCredentials.stderr.contains("it is plain HTTP to another host than the registry's"), "\(withCredentials.stderr)")
        #expect(requests("\(work)/tokens.log").isEmpty)
        // Anonymous, the token is fetched (and the missing image reported).
        let anonymous = try mbctl(["oci", "copy", "--retry-times", "1", "127.0.0.1:\(registryPort)/a/b:t", "oci:\(work)/layout"])
        #expect(!anonymous.succeeded)
        let asked = requests("\(work)/tokens.log")
        #expect(!asked.isEmpty && asked.allSatisfy { !$0.auth }, "\(asked)")
    }

    // MARK: Impossible numbers in a layout

    /// Rewrites the manifest of tag `t` in `layout` with `patch` (Python, on `manifest`), and
    /// index.json to point at the new manifest (with the size the index entry should claim).
    func patchManifest(_ layout: String, _ patch: String, indexSize: String = "len(data)") throws {
        try runCommand([
            "python3", "-c",
            """
            import hashlib, json, os, sys
            layout = sys.argv[1]
            index = json.load(open(os.path.join(layout, "index.json")))
            entry = index["manifests"][0]
            manifest = json.load(open(os.path.join(layout, "blobs", "sha256", entry["digest"].split(":")[1])))
            \(patch)
            data = json.dumps(manifest).encode()
            digest = hashlib.sha256(data).hexdigest()
            open(os.path.join(layout, "blobs", "sha256", digest), "wb").write(data)
            entry["digest"] = "sha256:" + digest
            entry["size"] = \(indexSize)
            json.dump(index, open(os.path.join(layout, "index.json"), "w"))
            """, layout,
        ])
    }

    func makeLayout(_ name: String) throws -> String {
        let spec = """
            {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"]},
              "layers": [{"entries": [{"path": "a", "content": "a"}]}, {"entries": [{"path": "b", "content": "b"}]}]}]}
            """
        try spec.write(toFile: "\(work)/\(name).json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/\(name).json", "\(work)/\(name)"])
        return "\(work)/\(name)"
    }

    @Test(arguments: [
        ("config", "manifest[\"config\"][\"size\"] = -1", "len(data)", "claims a size of -1 bytes"),
        (
            "huge", "manifest[\"layers\"][0][\"size\"] = 1 << 62; manifest[\"layers\"][1][\"size\"] = 1 << 62", "len(data)",
            "claims a size of 4611686018427387904 bytes"
        ),
        ("index", "pass", "-5", "claims a size of -5 bytes"),
        ("layers", "manifest[\"layers\"] = manifest[\"layers\"] * 600", "len(data)", "the manifest lists 1200 layers (at most 1000 accepted)"),
    ])
    func impossibleSizesAreRefusedWithoutACrash(name: String, patch: String, indexSize: String, message: String) throws {
        defer { cleanUp() }
        let layout = try makeLayout(name)
        try patchManifest(layout, patch, indexSize: indexSize)
        for command in [["oci", "download", "oci:\(layout):t", "\(work)/rootfs"], ["oci", "copy", "oci:\(layout):t", "oci:\(work)/copy"]] {
            let result = try mbctl(command)
            #expect(result.status == 1, "\(command[1]): exit \(result.status)\n\(result.stderr)")
            #expect(result.stderr.contains(message), "\(command[1]): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(work)/rootfs"))
        let staging = try FileManager.default.contentsOfDirectory(atPath: work).filter { $0.contains(".mbctl-") }
        #expect(staging.isEmpty, "\(staging)")
    }
}
