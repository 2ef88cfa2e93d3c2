import Foundation

/// Debian's `docker-registry` (distribution 2.8) on a free 127.0.0.1 port, with its own storage,
/// for one test; in a network namespace's loopback when given one (a systemd test host's). It is stopped when the value goes away; ``restart()`` brings it back on the
/// same port and storage (for interrupted-download tests).
final class TestRegistry {
    enum Security {
        /// Plain HTTP, no authentication.
        case open
        /// HTTPS with a self-signed certificate and htpasswd (bcrypt) Basic auth.
        case basicOverTLS(user: String, password: String)
        /// Bearer tokens from the fixtures' token server, which checks `user`/`password`.
        case token(user: String, password: String)
        /// A pull-through cache of the registry at `upstream` (host:port, plain HTTP).
        case proxy(upstream: String)
    }

    let directory: String
    let port: Int
    let security: Security
    /// The network namespace it listens in (nil: the test's own).
    let namespace: String?
    private(set) var server: BackgroundProcess?
    private var tokenServer: BackgroundProcess?
    private var generation = 0

    /// `127.0.0.1:PORT` (`127.0.0.1` on port 80).
    var host: String { port == 80 ? "127.0.0.1" : "127.0.0.1:\(port)" }
    var storage: String { "\(directory)/storage" }
    /// A containers-certs.d directory trusting the registry's certificate (TLS registries).
    var certDirectory: String { "\(directory)/certs" }
    var tokenLog: String { "\(directory)/token-requests.log" }

    /// `port`: a fixed one (80, say, in a namespace of the test's, for a registry named without
    /// a port); by default a free one.
    init(security: Security = .open, namespace: String? = nil, port: Int? = nil) throws {
        directory = NSTemporaryDirectory() + "mbctl-registry-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(directory)/certs", withIntermediateDirectories: true)
        self.port = try port ?? freeLoopbackPort()
        self.security = security
        self.namespace = namespace
        try writeConfiguration()
        try start()
    }

    deinit {
        server?.stop()
        tokenServer?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func writeConfiguration() throws {
        var config = """
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: \(storage)
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)

            """
        switch security {
        case .open:
            break
        case .proxy(let upstream):
            config += """
                proxy:
                  remoteurl: http://\(upstream)

                """
        case .basicOverTLS(let user, let password):
            try makeCertificate(name: "registry")
            try FileManager.default.copyItem(atPath: "\(directory)/registry.crt", toPath: "\(certDirectory)/ca.crt")
            let htpasswd = try runCommand(["htpasswd", "-Bbn", user, password]).stdout
            try htpasswd.write(toFile: "\(directory)/htpasswd", atomically: true, encoding: .utf8)
            config += """
                  tls:
                    certificate: \(directory)/registry.crt
                    key: \(directory)/registry.key
                auth:
                  htpasswd:
                    realm: mbctl-test
                    path: \(directory)/htpasswd

                """
        case .token(let user, let password):
            try makeCertificate(name: "token")
            let tokenPort = try freeLoopbackPort()
            tokenServer = try BackgroundProcess(
                [
                    "python3", "\(TestPaths.fixtures)/token-server.py", "\(tokenPort)", "\(directory)/token.key", "\(directory)/token.crt", user, password,
                    tokenLog,
                ],
                logPath: "\(directory)/token-server.out")
            try waitForListener(port: tokenPort)
            config += """
                auth:
                  token:
                    realm: http://127.0.0.1:\(tokenPort)/token
                    service: mbctl-test
                    issuer: mbctl-test-issuer
                    rootcertbundle: \(directory)/token.crt

                """
        }
        try config.write(toFile: "\(directory)/config.yml", atomically: true, encoding: .utf8)
    }

    private func makeCertificate(name: String) throws {
        try runCommand([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).crt",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
    }

    func start() throws {
        generation += 1
        let inNamespace = namespace.map { ["ip", "netns", "exec", $0] } ?? []
        server = try BackgroundProcess(
            inNamespace + ["docker-registry", "serve", "\(directory)/config.yml"], logPath: "\(directory)/registry-\(generation).log")
        guard namespace != nil else { return try waitForListener(port: port) }
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if try runCommand(inNamespace + ["curl", "-s", "-o", "/dev/null", "--max-time", "2", "http://\(host)/v2/"], check: false, deadline: 10).succeeded {
                return
            }
            usleep(50_000)
        }
        throw TestCommandError.failed("wait for \(host) in \(namespace ?? "")", CommandResult(status: -1, stdout: "", stderr: "nothing listened in time"))
    }

    func stop(abruptly: Bool = false) {
        server?.stop(abruptly: abruptly)
        server = nil
    }

    func restart() throws {
        stop()
        try start()
    }

    /// The log of the registry's current (or last) run.
    var log: String { server?.log ?? ((try? String(contentsOfFile: "\(directory)/registry-\(generation).log", encoding: .utf8)) ?? "") }

    /// Where the registry keeps the bytes of blob `hex` (distribution's filesystem driver layout).
    func blobDataPath(_ hex: String) -> String {
        "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }

    /// skopeo's options for writing to this registry.
    var skopeoDestinationOptions: [String] {
        switch security {
        case .open, .proxy: return ["--dest-tls-verify=false"]
        case .basicOverTLS(let user, let password): return ["--dest-cert-dir", certDirectory, "--dest-creds", "\(user):\(password)"]
        case .token(let user, let password): return ["--dest-tls-verify=false", "--dest-creds", "\(user):\(password)"]
        }
    }

    /// Builds an image from a make-image.py spec and pushes it here as `repository:tag` with
    /// skopeo (all platforms of an index). Returns the pushed manifest's digest as the registry has it.
    @discardableResult
    func push(spec: String, as repository: String, tag: String) throws -> String {
        let work = "\(directory)/build-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try spec.write(toFile: "\(work)/spec.json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/spec.json", "\(work)/layout"])
        let specTag = (try? JSONSerialization.jsonObject(with: Data(spec.utf8)) as? [String: Any])?["tag"] as? String ?? "latest"
        try runCommand(
            ["skopeo", "copy", "--all", "--quiet"] + skopeoDestinationOptions + ["oci:\(work)/layout:\(specTag)", "docker://\(host)/\(repository):\(tag)"])
        try? FileManager.default.removeItem(atPath: work)
        return try manifestDigest("\(repository):\(tag)")
    }

    /// The digest the registry gives `repository:tag`'s manifest (or index), read from its storage.
    func manifestDigest(_ name: String) throws -> String {
        let (repository, tag) = (name.split(separator: ":")[0], name.split(separator: ":")[1])
        let link = "\(storage)/docker/registry/v2/repositories/\(repository)/_manifests/tags/\(tag)/current/link"
        return try String(contentsOfFile: link, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var skopeoSourceOptions: [String] {
        skopeoDestinationOptions.map { $0.replacingOccurrences(of: "--dest-", with: "--src-") }
    }
}
