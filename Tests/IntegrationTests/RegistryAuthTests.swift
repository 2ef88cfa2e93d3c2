import Foundation
import Testing

/// Basic auth over TLS and the Bearer token flow, against real registries.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RegistryAuthTests {
    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-auth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    @Test func basicAuthOverTLS() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry(security: .basicOverTLS(user: "alice", password: "wonder land"))
        let pushed = try registry.push(spec: ImageSpecs.small, as: "private/app", tag: "1")
        let source = "docker://\(registry.host)/private/app:1"

        let good = try runMbctl(["oci", "copy", "--cert-dir", registry.certDirectory, "--creds", "alice:wonder land", source, "oci:\(work)/a"])
        #expect(good.succeeded, "\(good.stderr)")
        #expect(good.stdout.contains(pushed))

        let wrong = try runMbctl(["oci", "copy", "--cert-dir", registry.certDirectory, "--creds", "alice:nope", source, "oci:\(work)/b"])
        #expect(!wrong.succeeded)
        #expect(wrong.stderr.contains("unauthorized"))
        #expect(wrong.stderr.contains(registry.host))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/b"))

        // An untrusted certificate is reported as such, not bypassed by falling back to HTTP.
        let untrusted = try runMbctl(["oci", "copy", "--creds", "alice:wonder land", source, "oci:\(work)/c"])
        #expect(!untrusted.succeeded)
        #expect(untrusted.stderr.contains("TLS failed"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("--cert-dir"))

        // --tls-verify=false accepts it.
        let insecure = try runMbctl(["oci", "copy", "--tls-verify=false", "--creds", "alice:wonder land", source, "oci:\(work)/d"])
        #expect(insecure.succeeded, "\(insecure.stderr)")

        // Credentials from an auth file: --authfile, and ~/.docker/config.json.
        let auth = Data("alice:wonder land".utf8).base64EncodedString()
        let authJSON = "{\"auths\": {\"\(registry.host)\": {\"auth\": \"\(auth)\"}}}"
        try authJSON.write(toFile: "\(work)/auth.json", atomically: true, encoding: .utf8)
        let fromFile = try runMbctl(["oci", "copy", "--cert-dir", registry.certDirectory, "--authfile", "\(work)/auth.json", source, "oci:\(work)/e"])
        #expect(fromFile.succeeded, "\(fromFile.stderr)")
        try FileManager.default.createDirectory(atPath: "\(work)/home/.docker", withIntermediateDirectories: true)
        try authJSON.write(toFile: "\(work)/home/.docker/config.json", atomically: true, encoding: .utf8)
        let fromHome = try runMbctl(["oci", "copy", "--cert-dir", registry.certDirectory, source, "oci:\(work)/f"], home: "\(work)/home")
        #expect(fromHome.succeeded, "\(fromHome.stderr)")
        let anonymous = try runMbctl(["oci", "copy", "--cert-dir", registry.certDirectory, source, "oci:\(work)/g"])
        #expect(anonymous.stderr.contains("unauthorized"))
    }

    @Test func bearerTokenFlow() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry(security: .token(user: "bob", password: "builder"))
        let pushed = try registry.push(spec: ImageSpecs.multiLayer, as: "team/app", tag: "2")
        let source = "\(registry.host)/team/app:2"
        let tokenRequestsBefore = try tokenRequests(registry)

        let good = try runMbctl(["oci", "copy", "--creds", "bob:builder", source, "oci:\(work)/a"])
        #expect(good.succeeded, "\(good.stderr)")
        #expect(good.stdout.contains(pushed))
        // One token serves the manifest, the config and all layers: it is cached per scope.
        let requests = try tokenRequests(registry).dropFirst(tokenRequestsBefore.count)
        #expect(requests.count == 1)
        #expect(requests.first?.contains("repository:team/app:pull") == true)
        #expect(requests.first?.contains("\"auth\": true") == true)

        let wrong = try runMbctl(["oci", "copy", "--creds", "bob:wrong", source, "oci:\(work)/b"])
        #expect(!wrong.succeeded)
        #expect(wrong.stderr.contains("unauthorized"))
        #expect(wrong.stderr.contains(registry.host))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/b"))

        let anonymous = try runMbctl(["oci", "copy", source, "oci:\(work)/c"])
        #expect(!anonymous.succeeded)
        #expect(anonymous.stderr.contains("unauthorized"))
    }

    func tokenRequests(_ registry: TestRegistry) throws -> [String] {
        let text = (try? String(contentsOfFile: registry.tokenLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }
}

/// `redirecting-registry.py` in front of `upstream`: a registry that demands `user:password`
/// and sends blob downloads and uploads to another host, logging every request.
struct RedirectingRegistry {
    struct Request: Decodable {
        var server: String
        var method: String
        var path: String
        var auth: Bool
    }

    let front: Int
    let server: BackgroundProcess
    let logPath: String

    init(upstream: TestRegistry, user: String, password: String, work: String, throttle: Bool = false) throws {
        front = try freeLoopbackPort()
        let storage = try freeLoopbackPort()
        logPath = "\(work)/requests.log"
        server = try BackgroundProcess(
            ["python3", "\(TestPaths.fixtures)/redirecting-registry.py", "\(front)", "\(storage)", upstream.host, user, password, logPath]
                + (throttle ? ["throttle"] : []),
            logPath: "\(work)/server.out")
        try waitForListener(port: front)
    }

    /// What the front and the storage host were asked, in order.
    func requests() throws -> [Request] {
        try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }
}

/// Blob downloads redirected to another host, as S3- or CDN-backed registries do.
@Suite(.timeLimit(.minutes(10))) struct RedirectTests {
    @Test func credentialsDoNotFollowARedirectToAnotherHost() throws {
        let work = NSTemporaryDirectory() + "mbctl-redirect-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.multiLayer, as: "test/redirect", tag: "v1")
        let redirecting = try RedirectingRegistry(upstream: registry, user: "carol", password: "pw", work: work)
        defer { redirecting.server.stop() }

        let result = try runMbctl(["oci", "copy", "--creds", "carol:pw", "127.0.0.1:\(redirecting.front)/test/redirect:v1", "oci:\(work)/layout"])
        #expect(result.succeeded, "\(result.stderr)\n\(redirecting.server.log)")

        let entries = try redirecting.requests()
        let stored = entries.filter { $0.server == "storage" }
        // The config and three layers came from storage, none with the registry's credentials.
        #expect(stored.count == 4)
        #expect(stored.allSatisfy { !$0.auth })
        let redirected = entries.filter { $0.server == "front" && $0.path.contains("/blobs/") }
        #expect(redirected.count == 4 && redirected.allSatisfy { $0.auth })
    }

    /// A push whose upload Location is on another host: the blob goes there without the
    /// registry's credentials, and the image still lands under its digest.
    @Test func credentialsDoNotFollowAnUploadToAnotherHost() throws {
        let work = NSTemporaryDirectory() + "mbctl-redirect-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let digest = try registry.push(spec: ImageSpecs.multiLayer, as: "test/source", tag: "v1")
        let cache = ["--cache-dir", "\(work)/cache"]
        let archived = try runMbctl(["oci", "copy", "docker://\(registry.host)/test/source:v1", "oci-archive:\(work)/image.tar"] + cache)
        #expect(archived.succeeded, "\(archived.stderr)")
        let redirecting = try RedirectingRegistry(upstream: registry, user: "carol", password: "pw", work: work)
        defer { redirecting.server.stop() }

        let result = try runMbctl(
            ["oci", "copy", "--creds", "carol:pw", "oci-archive:\(work)/image.tar", "docker://127.0.0.1:\(redirecting.front)/test/pushed:v1"] + cache)
        #expect(result.succeeded, "\(result.stderr)\n\(redirecting.server.log)")
        #expect(try registry.manifestDigest("test/pushed:v1") == digest)

        let entries = try redirecting.requests()
        let uploads = entries.filter { $0.server == "storage" && $0.method == "PUT" }
        #expect(uploads.count == 4)
        #expect(entries.filter { $0.server == "storage" }.allSatisfy { !$0.auth })
        #expect(entries.filter { $0.server == "front" && $0.method == "POST" }.allSatisfy { $0.auth })
    }

    @Test func aThrottlingRegistryIsWaitedFor() throws {
        let work = NSTemporaryDirectory() + "mbctl-throttle-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.small, as: "test/throttle", tag: "small")
        let redirecting = try RedirectingRegistry(upstream: registry, user: "u", password: "p", work: work, throttle: true)
        defer { redirecting.server.stop() }
        let started = Date()
        let result = try runMbctl(["oci", "copy", "--creds", "u:p", "127.0.0.1:\(redirecting.front)/test/throttle:small", "oci:\(work)/layout"])
        #expect(result.succeeded, "\(result.stderr)")
        // Every blob was refused once with Retry-After: 1, and mbctl waited at least that long.
        #expect(result.stderr.contains("HTTP 429"), "\(result.stderr)")
        #expect(result.stderr.contains("in 1.0s") || result.stderr.contains("in 1.1s"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) >= 1.0)
    }
}
