import Foundation
import Testing
@testable import RegistryClient

// Serialized: two tests put their helpers on PATH.
@Suite(.serialized) struct CredentialSourcesTests {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "mbctl-creds-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func write(_ path: String, auths: [String: (String, String)], extra: String = "") throws {
        let entries = auths.map { key, value in
            "\"\(key)\": {\"auth\": \"\(Data("\(value.0):\(value.1)".utf8).base64EncodedString())\"}"
        }.joined(separator: ",")
        let full = "\(root)/\(path)"
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("{\"auths\": {\(entries)}\(extra)}".utf8).write(to: URL(fileURLWithPath: full))
    }

    func sources(env: [String: String] = [:], explicit: RegistryCredentials? = nil, authFile: String? = nil) -> CredentialSources {
        CredentialSources(explicit: explicit, authFile: authFile, environment: env, homeDirectory: "\(root)/home")
    }

    @Test func lookupOrderFollowsTheContainersTools() throws {
        try write("run/containers/auth.json", auths: ["r.example": ("runtime", "1")])
        try write("home/.config/containers/auth.json", auths: ["r.example": ("config", "2"), "other.example": ("config", "3")])
        try write("home/.docker/config.json", auths: ["r.example": ("docker", "4"), "third.example": ("docker", "5")])
        let env = ["XDG_RUNTIME_DIR": "\(root)/run"]
        #expect(
            sources(env: env).authFiles == [
                "\(root)/run/containers/auth.json", "\(root)/home/.config/containers/auth.json", "\(root)/home/.docker/config.json",
            ])
        #expect(try sources(env: env).credentials(registry: "r.example", repository: "a")?.username == "runtime")
        #expect(try sources(env: env).credentials(registry: "other.example", repository: "a")?.username == "config")
        #expect(try sources(env: env).credentials(registry: "third.example", repository: "a")?.username == "docker")
        #expect(try sources(env: env).credentials(registry: "none.example", repository: "a") == nil)
        #expect(try sources().credentials(registry: "r.example", repository: "a")?.username == "config")
    }

    @Test func explicitSourcesWin() throws {
        try write("home/.docker/config.json", auths: ["r.example": ("docker", "1")])
        try write("given.json", auths: ["r.example": ("given", "2")])
        try write("env.json", auths: ["r.example": ("env", "3")])
        let explicit = RegistryCredentials(username: "cli", password: "x")
        #expect(try sources(explicit: explicit).credentials(registry: "r.example", repository: "a") == explicit)
        let envFile = ["REGISTRY_AUTH_FILE": "\(root)/env.json"]
        #expect(try sources(env: envFile, authFile: "\(root)/given.json").credentials(registry: "r.example", repository: "a")?.username == "given")
        #expect(try sources(env: envFile).credentials(registry: "r.example", repository: "a")?.username == "env")
        // An explicit file is the only one consulted.
        #expect(try sources(env: envFile).credentials(registry: "other.example", repository: "a") == nil)
    }

    @Test func missingExplicitAuthFileIsAnError() {
        #expect(throws: RegistryError.self) {
            try sources(authFile: "\(root)/nope.json").credentials(registry: "r.example", repository: "a")
        }
    }

    @Test func mostSpecificKeyAndLegacyDockerHubKeys() throws {
        try write(
            "home/.docker/config.json",
            auths: [
                "r.example": ("whole", "1"), "r.example/team": ("team", "2"), "r.example/team/app": ("app", "3"),
                "https://index.docker.io/v1/": ("hub", "4"),
            ])
        let s = sources()
        #expect(try s.credentials(registry: "r.example", repository: "team/app")?.username == "app")
        #expect(try s.credentials(registry: "r.example", repository: "team/other")?.username == "team")
        #expect(try s.credentials(registry: "r.example", repository: "solo")?.username == "whole")
        #expect(try s.credentials(registry: "docker.io", repository: "library/busybox") == RegistryCredentials(username: "hub", password: "4"))
    }

    @Test func credentialHelperIsAsked() throws {
        let bin = "\(root)/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let helper = "\(bin)/docker-credential-testhelper"
        try Data(
            "#!/bin/sh\nread server\necho \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"helper-$server\\\",\\\"Secret\\\":\\\"s3cret\\\"}\"\n".utf8
        )
        .write(to: URL(fileURLWithPath: helper))
        chmod(helper, 0o755)
        try write("home/.docker/config.json", auths: ["r.example": ("file", "1")], extra: ", \"credHelpers\": {\"r.example\": \"testhelper\"}")
        let oldPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
        setenv("PATH", "\(bin):\(oldPath)", 1)
        defer { setenv("PATH", oldPath, 1) }
        #expect(try sources().credentials(registry: "r.example", repository: "a") == RegistryCredentials(username: "helper-r.example", password: "s3cret"))
    }

    @Test func aHelperThatNeverAnswersIsStoppedAtItsDeadline() throws {
        let bin = "\(root)/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try Data("#!/bin/sh\nsleep 600\n".utf8).write(to: URL(fileURLWithPath: "\(bin)/docker-credential-stuck"))
        chmod("\(bin)/docker-credential-stuck", 0o755)
        let oldPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
        setenv("PATH", "\(bin):\(oldPath)", 1)
        defer { setenv("PATH", oldPath, 1) }
        #expect {
            try CredentialHelper(name: "stuck", deadline: 1).get(registry: "r.example")
        } throws: { error in
            "\(error)".contains("docker-credential-stuck") && "\(error)".contains("did not answer within 1 seconds")
        }
    }

    @Test func credsFlagSplitsAtFirstColon() throws {
        #expect(try RegistryCredentials(parsing: "user:pa:ss") == RegistryCredentials(username: "user", password: "pa:ss"))
        #expect(throws: RegistryError.self) { try RegistryCredentials(parsing: "nopassword") }
    }
}
