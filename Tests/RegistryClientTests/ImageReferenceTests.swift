import Testing
@testable import RegistryClient

@Suite struct ImageReferenceTests {
    /// Docker's normalization table (distribution/reference ParseNormalizedNamed).
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/user/app:2", "docker.io/user/app:2"),
        ("user/app", "docker.io/user/app:latest"),
        ("localhost/x", "localhost/x:latest"),
        ("localhost:5000/x/y:t", "localhost:5000/x/y:t"),
        ("host:5000/a/b:tag", "host:5000/a/b:tag"),
        ("registry.example.com/a/b/c", "registry.example.com/a/b/c:latest"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        ("[::1]:5000/app:v", "[::1]:5000/app:v"),
        ("a.b/c__d/e-f.g:Tag_1.0-x", "a.b/c__d/e-f.g:Tag_1.0-x"),
    ])
    func normalizes(input: String, expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test func credentialsInAReferenceAreRefusedWithoutPrintingThePassword() {
        do {
            _ = try ImageReference(parsing: "user:s3cret@registry.example:5000/app:1")
            Issue.record("a reference with credentials was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.contains("credentials do not go into an image reference") && !message.contains("s3cret"), "\(message)")
        }
        // A tag and a digest without a registry host are no credentials.
        let digest = "sha256:" + String(repeating: "a", count: 64)
        #expect((try? ImageReference(parsing: "busybox:1.36@\(digest)"))?.digest?.description == digest)
    }

    @Test func digestWinsOverTag() throws {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let byDigest = try ImageReference(parsing: "busybox@\(digest)")
        #expect(byDigest.tag == nil)
        #expect(byDigest.manifestReference == digest)
        #expect(byDigest.description == "docker.io/library/busybox@\(digest)")

        let both = try ImageReference(parsing: "host:5000/app:1.0@\(digest)")
        #expect(both.manifestReference == digest)
        #expect(both.tag == "1.0")
        #expect(both.registry == "host:5000")
    }

    @Test func dockerHubTalksToRegistryOne() throws {
        #expect(try ImageReference(parsing: "busybox").apiHost == "registry-1.docker.io")
        #expect(try ImageReference(parsing: "host:5000/a").apiHost == "host:5000")
    }

    @Test(arguments: [
        ("Busybox", "lower case"),
        ("docker.io/Library/busybox", "lower case"),
        ("bad name", "may hold only"),
        ("a//b", "empty path component"),
        ("a/", "empty path component"),
        ("", "empty"),
        ("app:", "the tag must be"),
        ("app:-x", "the tag must be"),
        ("app@sha256:abc", "digest"),
        ("app@md5:" + String(repeating: "a", count: 32), "digest"),
        ("a-/b", "may hold only"),
        ("host_name:5000/a", "not a valid registry host"),
        ("example.com:99999/a", "not a valid registry host"),
        ("example.com:0/a", "not a valid registry host"),
        ("127.0.0.1:65536/a", "not a valid registry host"),
        ("[::1]:70000/a", "not a valid registry host"),
        ("example.com:+80/a", "not a valid registry host"),
        ("app:" + String(repeating: "t", count: 129), "the tag must be"),
    ])
    func refuses(input: String, reasonFragment: String) {
        #expect {
            try ImageReference(parsing: input)
        } throws: { error in
            guard let error = error as? RegistryError, case .invalidReference(let text, let reason) = error else { return false }
            return text == input && reason.contains(reasonFragment)
        }
    }

    @Test func refusesTooLongNames() {
        let long = String(repeating: "a", count: 250) + "/" + String(repeating: "b", count: 10)
        #expect(throws: RegistryError.self) { try ImageReference(parsing: long) }
    }
}
