import Foundation
import Testing

/// The signature policy against a real docker-registry on loopback, with sigstore signatures in
/// skopeo's attachment layout (made by `Tests/Fixtures/sigstore-sign.py`, since Debian's skopeo
/// has sigstore compiled out) and skopeo as the oracle for what it can decide (scopes,
/// `reject`, `insecureAcceptAnything`). Each refusal is checked for its one line, its exit
/// status, nothing left behind, and, in the registry's access log, no blob requested.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SignaturePolicyTests {
    let work: String
    let registry: TestRegistry
    let digest: String

    static let image = """
        {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"], "Volumes": {"/app/data": {}}},
          "layers": [{"entries": [{"path": "app", "type": "dir"}, {"path": "app/data", "type": "dir"}, {"path": "word", "content": "signed"}]}]}]}
        """

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-trust-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(work)/registries.d", withIntermediateDirectories: true)
        try "default-docker:\n  use-sigstore-attachments: true\n".write(toFile: "\(work)/registries.d/default.yaml", atomically: true, encoding: .utf8)
        registry = try TestRegistry()
        digest = try registry.push(spec: Self.image, as: "apps/app", tag: "v1")
        for key in ["trusted", "other"] { try runCommand(["python3", Self.signer, "keygen", "p256", "\(work)/\(key).pem", "\(work)/\(key).pub"]) }
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: work) }

    static var signer: String { "\(TestPaths.fixtures)/sigstore-sign.py" }

    /// Signs `repository`'s manifest `digest` as `identity` with `key`.
    func sign(_ repository: String = "apps/app", digest: String? = nil, identity: String, key: String = "trusted", _ extra: [String] = []) throws {
        try runCommand(["python3", Self.signer, "sign", registry.host, repository, digest ?? self.digest, identity, "\(work)/\(key).pem"] + extra)
    }

    /// A policy file: `default` and the docker scopes given.
    func policy(default requirement: String, _ scopes: [String: String] = [:]) throws -> String {
        let docker = scopes.map { "\"\($0.key)\": [\($0.value)]" }.joined(separator: ", ")
        let path = "\(work)/policy-\(UUID().uuidString.prefix(8)).json"
        try #"{"default": [\#(requirement)], "transports": {"docker": {\#(docker)}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func signedBy(_ key: String = "trusted", identity: String? = nil) -> String {
        #"{"type": "sigstoreSigned", "keyPath": "\#(work)/\#(key).pub""# + (identity.map { #", "signedIdentity": \#($0)"# } ?? "") + "}"
    }

    static let reject = #"{"type": "reject"}"#
    static let anything = #"{"type": "insecureAcceptAnything"}"#

    /// GETs of the image's own blobs (config and layers of `repository`'s `digest`, not the
    /// signatures' payloads) in the registry's log, once a request made after mbctl's shows
    /// there (the log is written as requests end).
    func blobRequests(_ repository: String = "apps/app") throws -> Int {
        let manifest = try runCommand([
            "curl", "-sf", "--max-time", "10", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
            "http://\(registry.host)/v2/\(repository)/manifests/\(digest)",
        ]).stdout
        let object = try #require(try JSONSerialization.jsonObject(with: Data(manifest.utf8)) as? [String: Any])
        let blobs = ([object["config"]] + (object["layers"] as? [Any] ?? [])).compactMap { ($0 as? [String: Any])?["digest"] as? String }
        #expect(blobs.count == 2)
        let marker = "marker-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try runCommand(["curl", "-s", "-o", "/dev/null", "--max-time", "10", "http://\(registry.host)/v2/\(marker)/tags/list"], check: false)
        let deadline = Date().addingTimeInterval(10)
        while !registry.log.contains(marker) && Date() < deadline { usleep(20_000) }
        #expect(registry.log.contains(marker), "the registry never logged the marker request")
        return registry.log.split(separator: "\n").filter { line in blobs.contains { line.contains("\"GET /v2/\(repository)/blobs/\($0)") } }.count
    }

    /// `oci download` of `image` with `policy` into a new target: its result, and whether the
    /// target holds the image.
    func download(_ image: String, policy: String) throws -> (CommandResult, Bool) {
        let target = "\(work)/out-\(UUID().uuidString.prefix(8))"
        let result = try runMbctl([
            "oci", "download", "--policy", policy, "--registries.d", "\(work)/registries.d", "--retry-times", "1",
            "--cache-dir", "\(work)/cache-\(UUID().uuidString.prefix(8))", "docker://\(registry.host)/\(image)", target,
        ])
        let unpacked = FileManager.default.fileExists(atPath: "\(target)/word")
        if result.status != 0 { #expect(!FileManager.default.fileExists(atPath: target), "a refused download left \(target)") }
        return (result, unpacked)
    }

    /// Expects `oci download` of `image` under `policy` to be refused with a line containing
    /// `reason`, before any blob of `repository` was asked for.
    func expectRefused(_ image: String, policy: String, _ reason: String, repository: String = "apps/app", sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let before = try blobRequests(repository)
        let (result, unpacked) = try download(image, policy: policy)
        #expect(result.status != 0 && !unpacked, "accepted: \(result.stdout)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(
            lines.count == 1 && lines[0].contains("is refused by the signature policy") && lines[0].contains(reason), "\(result.stderr)",
            sourceLocation: sourceLocation)
        #expect(try blobRequests(repository) == before, "a refused image had blobs fetched", sourceLocation: sourceLocation)
    }

    func expectAccepted(_ image: String, policy: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (result, unpacked) = try download(image, policy: policy)
        #expect(result.status == 0 && unpacked, "\(result.stderr)", sourceLocation: sourceLocation)
    }

    /// What skopeo decides for `image` under `policy` (true: it copies the image).
    func skopeoAccepts(_ image: String, policy: String) throws -> Bool {
        try skopeoAccepts(location: "docker://\(registry.host)/\(image)", policy: policy)
    }

    /// What skopeo decides for the image at `location` under `policy`.
    func skopeoAccepts(location: String, policy: String) throws -> Bool {
        let result = try runCommand(
            ["skopeo", "copy", "--quiet", "--policy", policy, "--src-tls-verify=false", location, "oci:\(work)/skopeo-\(UUID().uuidString.prefix(8)):t"],
            check: false)
        #expect(result.status == 0 || result.stderr.contains("rejected"), "skopeo failed otherwise: \(result.stderr)")
        return result.status == 0
    }

    @Test func aSignatureByATrustedKeyForThisImageLetsItIn() throws {
        defer { cleanUp() }
        try sign(identity: "\(registry.host)/apps/app:v1")
        try expectAccepted("apps/app:v1", policy: try policy(default: signedBy()))
        #expect(try blobRequests() > 0)
        // Every key type cosign makes verifies.
        for kind in ["p384", "ed25519", "rsa"] {
            try runCommand(["python3", Self.signer, "keygen", kind, "\(work)/\(kind).pem", "\(work)/\(kind).pub"])
            try sign(identity: "\(registry.host)/apps/app:v1", key: kind)
            try expectAccepted("apps/app:v1", policy: try policy(default: signedBy(kind)))
        }
    }

    /// cosign 3 attaches a Sigstore bundle as an OCI 1.1 referrer; docker-registry has no
    /// referrers API (it answers 404), so the bundle is found through the referrers tag
    /// `sha256-HEX`, as cosign itself falls back.
    @Test func cosignBundlesFoundThroughTheReferrersTagAreVerified() throws {
        defer { cleanUp() }
        func attach(key: String, _ options: [String] = []) throws {
            try runCommand(["python3", Self.signer, "bundle", registry.host, "apps/app", digest, "\(work)/\(key).pem"] + options)
        }
        try attach(key: "other")
        try attach(key: "trusted", ["--predicate-type", "https://slsa.dev/provenance/v1"])
        try expectRefused(
            "apps/app:v1", policy: try policy(default: signedBy()),
            "none of its 2 signatures matches the policy: 1 made by a key the policy does not trust, "
                + "1 not an image signature: an attestation of https://slsa.dev/provenance/v1")
        #expect(registry.log.contains("GET /v2/apps/app/referrers/\(digest)"), "the referrers API was not asked first")
        try attach(key: "trusted")
        try expectAccepted("apps/app:v1", policy: try policy(default: signedBy()))
    }

    @Test func unsignedOtherKeysMovedSignaturesAndOtherNamesAreRefused() throws {
        defer { cleanUp() }
        try expectRefused("apps/app:v1", policy: try policy(default: signedBy()), "unsigned")
        try sign(identity: "\(registry.host)/apps/app:v1", key: "other")
        try expectRefused("apps/app:v1", policy: try policy(default: signedBy()), "its one signature is made by a key the policy does not trust")
        // A trusted signature of another image, moved onto this one's attachment.
        let otherDigest = "sha256:" + String(repeating: "1", count: 64)
        try sign(identity: "\(registry.host)/apps/app:v1", ["--signed-digest", otherDigest])
        try expectRefused(
            "apps/app:v1", policy: try policy(default: signedBy()),
            "none of its 2 signatures matches the policy: 1 made by a key the policy does not trust, 1 for another image (\(otherDigest))")
        // A trusted signature of this manifest under another tag: matchExact and the default
        // refuse it, matchRepository takes it.
        try sign(identity: "\(registry.host)/apps/app:v0")
        for identity in [#"{"type": "matchExact"}"#, #"{"type": "matchRepoDigestOrExact"}"#] {
            try expectRefused("apps/app:v1", policy: try policy(default: signedBy(identity: identity)), "identity \(registry.host)/apps/app:v0 does not match")
        }
        try expectRefused(
            "apps/app:v1", policy: try policy(default: signedBy(identity: #"{"type": "exactRepository", "dockerRepository": "\#(registry.host)/apps/other"}"#)),
            "does not match")
        try expectAccepted("apps/app:v1", policy: try policy(default: signedBy(identity: #"{"type": "matchRepository"}"#)))
    }

    @Test func scopesDecideAsSkopeoDecides() throws {
        defer { cleanUp() }
        let cases: [(String, Bool)] = [
            (try policy(default: Self.reject, ["\(registry.host)/apps/app": Self.anything]), true),
            (try policy(default: Self.anything, ["\(registry.host)/apps/app": Self.reject]), false),
            (try policy(default: Self.reject, ["\(registry.host)": Self.anything, "\(registry.host)/apps/app:v1": Self.reject]), false),
            (try policy(default: Self.reject, ["\(registry.host)/apps": Self.anything]), true),
            (try policy(default: Self.anything, ["\(registry.host)/apps/app:v2": Self.reject]), true),
        ]
        for (policy, accepted) in cases {
            #expect(try skopeoAccepts("apps/app:v1", policy: policy) == accepted, "skopeo, \(policy)")
            if accepted {
                try expectAccepted("apps/app:v1", policy: policy)
            } else {
                try expectRefused("apps/app:v1", policy: policy, "rejected by policy for docker:\(registry.host)/apps/app")
            }
        }
    }

    @Test func oversizedAndMalformedSignaturesAreRefusedNotTrusted() throws {
        defer { cleanUp() }
        try sign(identity: "\(registry.host)/apps/app:v1", ["--garbage"])
        try expectRefused("apps/app:v1", policy: try policy(default: signedBy()), "malformed: the signature is not base64")
        try sign(identity: "\(registry.host)/apps/app:v1", ["--payload-bytes", "\(5 << 20)"])
        try expectRefused("apps/app:v1", policy: try policy(default: signedBy()), "its signatures cannot be read: blob sha256:")
        let (result, _) = try download("apps/app:v1", policy: try policy(default: signedBy()))
        #expect(result.stderr.contains("more than the limit of 4194304 bytes"), "\(result.stderr)")
    }

    @Test func machinesRememberHowTheyWereVerifiedAndUpgradesRefuseWhatThePolicyRefuses() throws {
        defer { cleanUp() }
        let root = "\(work)/host"
        let trust = ["--policy", try policy(default: signedBy()), "--registries.d", "\(work)/registries.d", "--retry-times", "1"]
        func mbctl(_ arguments: [String]) throws -> CommandResult { try runMbctl(onTestHost(arguments, root: root)) }
        let image = "docker://\(registry.host)/apps/app:v1"
        let prefix = ["--prefix", "300:2e98:a4b0:1789::/64", "--volume", "/app/data=data"]

        let refused = try mbctl(["machines", "pull", image, "signed1"] + prefix + trust)
        #expect(refused.status != 0 && refused.stderr.contains("unsigned"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/var/lib/machines/signed1"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/etc/systemd/nspawn/signed1.nspawn"))

        try sign(identity: "\(registry.host)/apps/app:v1")
        let pulled = try mbctl(["machines", "pull", image, "signed1"] + prefix + trust)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let shown = try mbctl(["machines", "show", "signed1"]).stdout
        #expect(shown.contains("verified      sigstoreSigned by ECDSA P-256 key sha256:"), "\(shown)")
        #expect(shown.contains("(\(work)/trusted.pub) as \(registry.host)/apps/app:v1"), "\(shown)")

        // v2 under the same tag, unsigned: the upgrade is refused and the machine is as it was.
        let v2 = Self.image.replacingOccurrences(of: "\"signed\"", with: "\"unsigned v2\"")
        let v2Digest = try registry.push(spec: v2, as: "apps/app", tag: "v1")
        #expect(v2Digest != digest)
        let upgrade = try mbctl(["machines", "upgrade", "signed1"] + trust)
        #expect(upgrade.status != 0 && upgrade.stderr.contains("unsigned"), "\(upgrade.stderr)")
        #expect(try String(contentsOfFile: "\(root)/var/lib/machines/signed1/word", encoding: .utf8) == "signed")
        let after = try mbctl(["machines", "show", "signed1"]).stdout
        #expect(after.contains("generation    1") && after.contains(digest), "\(after)")

        // Without a policy file at all, a machine is made and says it was not verified.
        let unverified = try mbctl(["machines", "pull", image, "plain1"] + prefix)
        #expect(unverified.status == 0, "\(unverified.stderr)")
        #expect(try mbctl(["machines", "show", "plain1"]).stdout.contains("verified      not verified (no signature policy)"))
    }

    @Test func aRefusedCopyLeavesNoLayout() throws {
        defer { cleanUp() }
        let layout = "\(work)/copied"
        let result = try runMbctl([
            "oci", "copy", "--policy", try policy(default: signedBy()), "--registries.d", "\(work)/registries.d", "--cache-dir", "\(work)/cache",
            "docker://\(registry.host)/apps/app:v1", "oci:\(layout):v1",
        ])
        #expect(result.status != 0 && result.stderr.contains("unsigned"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: layout))
        #expect(try blobRequests() == 0)
    }

    /// A GnuPG home under `work` with a new signing key (protected by `passphrase`): its
    /// fingerprint and the public key exported.
    static func gpgKey(_ name: String, in work: String, passphrase: String = "") throws -> (home: String, fingerprint: String, publicKey: String) {
        let home = "\(work)/\(name)-gnupg"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let environment = ["GNUPGHOME": home, "PATH": "/usr/bin:/bin"]
        try runCommand(
            [
                "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase, "--quick-gen-key", "\(name) <\(name)@mbctl.invalid>", "ed25519",
                "sign", "never",
            ],
            environment: environment)
        let listing = try runCommand(["gpg", "--batch", "--with-colons", "--list-keys"], environment: environment).stdout
        let fingerprint = try #require(
            listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }?.split(separator: ":", omittingEmptySubsequences: false)[9])
        let publicKey = "\(work)/\(name).gpg"
        try runCommand(["sh", "-c", "gpg --batch --export \(fingerprint) > \(publicKey)"], environment: environment)
        return (home, String(fingerprint), publicKey)
    }

    @Test func gpgSignaturesInALookasideStoreDecideAsSkopeoDecides() throws {
        defer { cleanUp() }
        let trusted = try Self.gpgKey("trusted", in: work), decoy = try Self.gpgKey("decoy", in: work)
        defer {
            for home in [trusted.home, decoy.home] { _ = try? runCommand(["gpgconf", "--kill", "gpg-agent"], environment: ["GNUPGHOME": home], check: false) }
        }
        // skopeo signs into a staging directory; mbctl and skopeo read it over http.
        let staging = "\(work)/lookaside"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let server = try BackgroundProcess(
            ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", staging], logPath: "\(work)/lookaside.log")
        defer { server.stop() }
        try waitForListener(port: port)
        let registriesD = "\(work)/gpg-registries.d"
        try FileManager.default.createDirectory(atPath: registriesD, withIntermediateDirectories: true)
        try """
        docker:
          \(registry.host):
            lookaside: http://127.0.0.1:\(port)
            lookaside-staging: file://\(staging)
        """.write(toFile: "\(registriesD)/lookaside.yaml", atomically: true, encoding: .utf8)
        func signedCopy(_ repository: String, by key: (home: String, fingerprint: String, publicKey: String)) throws {
            try runCommand(
                [
                    "skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", "--registries.d", registriesD, "--sign-by",
                    key.fingerprint, "docker://\(registry.host)/apps/app:v1", "docker://\(registry.host)/\(repository):v1",
                ], environment: ["GNUPGHOME": key.home, "PATH": "/usr/bin:/bin"])
        }
        try signedCopy("apps/gpg", by: trusted)
        try signedCopy("apps/decoy", by: decoy)
        _ = try runCommand([
            "skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://\(registry.host)/apps/app:v1",
            "docker://\(registry.host)/apps/unsigned:v1",
        ])
        #expect(FileManager.default.fileExists(atPath: "\(staging)/apps/gpg@\(digest.replacingOccurrences(of: ":", with: "="))/signature-1"))

        let policy = try self.policy(default: #"{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "\#(trusted.publicKey)"}"#)
        for (repository, accepted, reason) in [
            ("apps/gpg", true, ""), ("apps/decoy", false, "its one signature is made by a key the policy does not trust"),
            ("apps/unsigned", false, "unsigned: it has no simple-signing (GPG) signature"),
        ] {
            // skopeo decides with an empty GnuPG home of its own: only the policy's key counts.
            let oracle = try runCommand(
                [
                    "skopeo", "copy", "--quiet", "--remove-signatures", "--policy", policy, "--registries.d", registriesD, "--src-tls-verify=false",
                    "docker://\(registry.host)/\(repository):v1", "oci:\(work)/skopeo-\(UUID().uuidString.prefix(8)):t",
                ], environment: ["GNUPGHOME": "\(work)/empty-gnupg", "PATH": "/usr/bin:/bin"], check: false)
            #expect((oracle.status == 0) == accepted, "skopeo on \(repository): \(oracle.stderr)")
            let target = "\(work)/out-\(UUID().uuidString.prefix(8))"
            let result = try runMbctl([
                "oci", "download", "--policy", policy, "--registries.d", registriesD, "--retry-times", "1", "--cache-dir", "\(work)/gpg-cache",
                "docker://\(registry.host)/\(repository):v1", target,
            ])
            #expect((result.status == 0) == accepted, "mbctl on \(repository): \(result.stderr)")
            if !accepted {
                #expect(result.stderr.contains(reason), "\(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: target))
            }
        }
        #expect(server.log.contains("GET /apps/gpg@sha256="), "mbctl never asked the lookaside store: \(server.log)")
    }

    @Test func layoutsAreLookedUpByPathAndRefusedBeforeTheyAreRead() throws {
        defer { cleanUp() }
        try Self.image.write(toFile: "\(work)/spec.json", atomically: true, encoding: .utf8)
        let layout = "\(work)/layouts/app"
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/spec.json", layout])
        let oci = #"{"default": [\#(Self.reject)], "transports": {"oci": {"\#(work)/layouts": [\#(Self.anything)]}}}"#
        let scoped = "\(work)/oci-policy.json"
        try oci.write(toFile: scoped, atomically: true, encoding: .utf8)
        for (policy, accepted, reason) in [
            (scoped, true, ""), (try policy(default: Self.reject), false, "rejected by policy for default"),
            (try policy(default: signedBy()), false, "unsigned: default requires a signature, and oci: images carry none"),
        ] {
            #expect(try skopeoAccepts(location: "oci:\(layout):t", policy: policy) == accepted, "skopeo, \(policy)")
            let target = "\(work)/out-\(UUID().uuidString.prefix(8))"
            let result = try runMbctl(["oci", "download", "--policy", policy, "--cache-dir", "\(work)/cache", "oci:\(layout):t", target])
            #expect((result.status == 0) == accepted, "\(result.stderr)")
            if !accepted {
                #expect(result.stderr.contains("oci:\(layout):t is refused by the signature policy: \(reason)"), "\(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: target))
            }
        }
    }
}
