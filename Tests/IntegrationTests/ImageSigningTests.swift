import Foundation
import Testing

/// `oci copy --sign-by-sigstore-private-key` and `--sign-by` against a real docker-registry:
/// what mbctl signs is checked by the reference implementations (cosign's checks, written with
/// Python's `cryptography` in `sigstore-sign.py verify`, for sigstore; skopeo for GPG), keys
/// are sealed as cosign seals them (scrypt + NaCl secretbox, by PyNaCl), and a copy that cannot
/// sign or keep its signatures pushes nothing.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ImageSigningTests {
    let work: String
    let registry: TestRegistry
    let digest: String
    /// registries.d with `use-sigstore-attachments` for every registry.
    let attachments: String

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-signing-\(UUID().uuidString)"
        attachments = "\(work)/registries.d"
        try FileManager.default.createDirectory(atPath: attachments, withIntermediateDirectories: true)
        try "default-docker:\n  use-sigstore-attachments: true\n".write(toFile: "\(attachments)/default.yaml", atomically: true, encoding: .utf8)
        try "pass phrase\n".write(toFile: "\(work)/passphrase", atomically: true, encoding: .utf8)
        registry = try TestRegistry()
        digest = try registry.push(spec: SignaturePolicyTests.image, as: "apps/app", tag: "v1")
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: work) }

    /// A cosign key pair of `kind`, sealed with the passphrase in `work/passphrase`: the key
    /// file and the public key.
    func cosignKey(_ kind: String) throws -> (key: String, pub: String) {
        let base = "\(work)/\(kind)"
        try runCommand(["python3", SignaturePolicyTests.signer, "keygen", kind, "\(base).pem", "\(base).pub"])
        try runCommand(["python3", SignaturePolicyTests.signer, "cosign-key", "\(base).pem", "pass phrase", "\(base).key"])
        return ("\(base).key", "\(base).pub")
    }

    /// `mbctl oci copy` of `source` to `destination` (docker:// on the test registry unless
    /// given whole) with `options`.
    func copy(_ source: String, to destination: String, _ options: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let target = destination.contains(":/") || destination.hasPrefix("oci:") ? destination : "docker://\(registry.host)/\(destination)"
        return try runMbctl(
            ["oci", "copy", "--cache-dir", "\(work)/cache", "--retry-times", "1", "docker://\(registry.host)/\(source)", target] + options,
            environment: environment)
    }

    /// The signatures in `repository`'s attachment of `digest`, as the reference checks them
    /// with `pub`: one object per signature (`valid`, `digest`, `identity`, `type`).
    func verified(_ repository: String, with pub: String, on registry: TestRegistry? = nil) throws -> [[String: Any]] {
        let output = try runCommand(["python3", SignaturePolicyTests.signer, "verify", (registry ?? self.registry).host, repository, digest, pub]).stdout
        return try output.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    /// Whether `repository` has the tag `tag`.
    func hasTag(_ repository: String, _ tag: String) throws -> Bool {
        let result = try runCommand(
            [
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                "http://\(registry.host)/v2/\(repository)/manifests/\(tag)",
            ], check: false)
        return result.stdout == "200"
    }

    var sigTag: String { digest.replacingOccurrences(of: ":", with: "-") + ".sig" }

    @Test func sigstoreSignaturesMbctlMakesAreTheOnesCosignAccepts() throws {
        defer { cleanUp() }
        let keys = try ["p256", "ed25519", "rsa"].map { try cosignKey($0) }
        for key in keys {
            let result = try copy(
                "apps/app:v1", to: "signed/app:v1",
                ["--registries.d", attachments, "--sign-by-sigstore-private-key", key.key, "--sign-passphrase-file", "\(work)/passphrase"])
            #expect(result.status == 0 && result.stdout.contains("signatures: 0 copied, 1 made"), "\(result.stderr)")
        }
        // One attachment, a signature per key, each valid for its own key only, naming the
        // pushed digest and the destination.
        for (index, key) in keys.enumerated() {
            let signatures = try verified("signed/app", with: key.pub)
            #expect(signatures.count == 3)
            #expect(signatures.enumerated().allSatisfy { ($0.element["valid"] as? Bool) == ($0.offset == index) }, "\(signatures)")
            #expect(signatures.allSatisfy { $0["digest"] as? String == digest && $0["identity"] as? String == "\(registry.host)/signed/app:v1" })
            #expect(signatures.allSatisfy { $0["type"] as? String == "cosign container image signature" })
        }
        // And mbctl's own policy lets the image in by any of them.
        let policy = "\(work)/policy.json"
        try #"{"default": [{"type": "sigstoreSigned", "keyPath": "\#(keys[1].pub)"}]}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        let download = try runMbctl([
            "oci", "download", "--policy", policy, "--registries.d", attachments, "--cache-dir", "\(work)/cache2",
            "docker://\(registry.host)/signed/app:v1", "\(work)/rootfs",
        ])
        #expect(download.status == 0, "\(download.stderr)")
        // --sign-identity names another image.
        let renamed = try copy(
            "apps/app:v1", to: "renamed/app:v1",
            [
                "--registries.d", attachments, "--sign-by-sigstore-private-key", keys[0].key, "--sign-passphrase-file", "\(work)/passphrase",
                "--sign-identity", "site.example/apps/app:stable",
            ])
        #expect(renamed.status == 0, "\(renamed.stderr)")
        #expect(try verified("renamed/app", with: keys[0].pub).map { $0["identity"] as? String } == ["site.example/apps/app:stable"])
    }

    @Test func aCopyThatCannotSignPushesNothing() throws {
        defer { cleanUp() }
        let key = try cosignKey("p256")
        try "wrong\n".write(toFile: "\(work)/wrong", atomically: true, encoding: .utf8)
        let empty = "\(work)/empty.d"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        var huge = try String(contentsOfFile: key.key, encoding: .utf8)
        huge = try sealedWithCost(huge, cost: 1 << 24)
        try huge.write(toFile: "\(work)/huge.key", atomically: true, encoding: .utf8)
        for (repository, options, reason) in [
            (
                "wrong/app", ["--registries.d", attachments, "--sign-by-sigstore-private-key", key.key, "--sign-passphrase-file", "\(work)/wrong"],
                "the passphrase does not open it"
            ),
            (
                "noattach/app", ["--registries.d", empty, "--sign-by-sigstore-private-key", key.key, "--sign-passphrase-file", "\(work)/passphrase"],
                "does not set use-sigstore-attachments"
            ),
            (
                "costly/app",
                ["--registries.d", attachments, "--sign-by-sigstore-private-key", "\(work)/huge.key", "--sign-passphrase-file", "\(work)/passphrase"],
                "are not ones cosign uses"
            ),
            (
                "nokey/app", ["--registries.d", attachments, "--sign-by-sigstore-private-key", key.pub, "--sign-passphrase-file", "\(work)/passphrase"],
                "not an encrypted cosign private key"
            ),
        ] {
            let result = try copy("apps/app:v1", to: "\(repository):v1", options)
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
            #expect(result.status != 0 && errors.count == 1 && errors[0].contains(reason), "\(repository): \(result.stderr)")
            #expect(try !hasTag(repository, "v1"), "\(repository) was pushed")
            #expect(try !hasTag(repository, sigTag))
        }
        // A layout holds no signatures.
        let layout = try copy(
            "apps/app:v1", to: "oci:\(work)/layout:v1", ["--sign-by-sigstore-private-key", key.key, "--sign-passphrase-file", "\(work)/passphrase"])
        #expect(layout.status != 0 && layout.stderr.contains("holds no signatures"), "\(layout.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(work)/layout"))
    }

    /// `key` (a sealed cosign key's PEM) claiming the scrypt cost `cost`.
    func sealedWithCost(_ key: String, cost: Int) throws -> String {
        let lines = key.split(separator: "\n")
        let body = try #require(Data(base64Encoded: lines.dropFirst().dropLast().joined()))
        var envelope = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        var kdf = try #require(envelope["kdf"] as? [String: Any])
        kdf["params"] = ["N": cost, "r": 8, "p": 1]
        envelope["kdf"] = kdf
        let sealed = try JSONSerialization.data(withJSONObject: envelope).base64EncodedString()
        return "\(lines.first ?? "")\n\(sealed)\n\(lines.last ?? "")\n"
    }

    @Test func registryCopiesCarryTheSourcesSignaturesUnlessRemoved() throws {
        defer { cleanUp() }
        let key = try cosignKey("p256")
        try runCommand(["python3", SignaturePolicyTests.signer, "sign", registry.host, "apps/app", digest, "\(registry.host)/apps/app:v1", "\(work)/p256.pem"])
        let other = try TestRegistry()
        for (destination, registryOfCopy) in [("carried/app:v1", registry), ("docker://\(other.host)/carried/app:v1", other)] {
            let result = try copy("apps/app:v1", to: destination, ["--registries.d", attachments])
            #expect(result.status == 0 && result.stdout.contains("signatures: 1 copied, 0 made"), "\(result.stdout) \(result.stderr)")
            let signatures = try verified("carried/app", with: key.pub, on: registryOfCopy)
            #expect(signatures.count == 1 && signatures[0]["valid"] as? Bool == true && signatures[0]["identity"] as? String == "\(registry.host)/apps/app:v1")
        }
        // Copied again, the signature is there already: not added twice.
        let again = try copy("apps/app:v1", to: "carried/app:v1", ["--registries.d", attachments])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try verified("carried/app", with: key.pub).count == 1)
        // Signed while copied: the source's and the new one.
        let signed = try copy(
            "apps/app:v1", to: "both/app:v1",
            ["--registries.d", attachments, "--sign-by-sigstore-private-key", key.key, "--sign-passphrase-file", "\(work)/passphrase"])
        #expect(signed.stdout.contains("signatures: 1 copied, 1 made"), "\(signed.stderr)")
        #expect(try verified("both/app", with: key.pub).map { $0["identity"] as? String } == ["\(registry.host)/apps/app:v1", "\(registry.host)/both/app:v1"])
        // --remove-signatures leaves them behind; without attachments enabled for the
        // destination, a signed source cannot be copied as it is.
        let removed = try copy("apps/app:v1", to: "removed/app:v1", ["--registries.d", attachments, "--remove-signatures"])
        #expect(removed.status == 0 && !removed.stdout.contains("signatures:"), "\(removed.stderr)")
        #expect(try !hasTag("removed/app", sigTag))
        #expect(try verified("removed/app", with: key.pub).isEmpty)
    }

    /// cosign 3's bundles go along too: a referrer manifest with the same bytes (so the same
    /// digest) in the destination, listed once in its referrers tag however often it is copied,
    /// and accepted there by a policy with the signing key.
    @Test func registryCopiesCarryCosignBundles() throws {
        defer { cleanUp() }
        try runCommand(["python3", SignaturePolicyTests.signer, "keygen", "p256", "\(work)/p256.pem", "\(work)/p256.pub"])
        try runCommand(["python3", SignaturePolicyTests.signer, "bundle", registry.host, "apps/app", digest, "\(work)/p256.pem"])
        let other = try TestRegistry()
        func referrers(_ host: String, _ repository: String) throws -> [[String: Any]] {
            let text = try runCommand([
                "curl", "-sf", "--max-time", "10", "-H", "Accept: application/vnd.oci.image.index.v1+json",
                "http://\(host)/v2/\(repository)/manifests/\(digest.replacingOccurrences(of: ":", with: "-"))",
            ]).stdout
            let index = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            return try #require(index["manifests"] as? [[String: Any]])
        }
        for _ in 0..<2 {
            let result = try copy("apps/app:v1", to: "docker://\(other.host)/carried/app:v1", ["--registries.d", attachments])
            #expect(result.status == 0 && result.stdout.contains("signatures: 1 copied, 0 made"), "\(result.stdout) \(result.stderr)")
        }
        let carried = try referrers(other.host, "carried/app")
        #expect(carried.map { $0["digest"] as? String } == (try referrers(registry.host, "apps/app")).map { $0["digest"] as? String })
        #expect(carried.first?["artifactType"] as? String == "application/vnd.dev.sigstore.bundle.v0.3+json")
        let policy = "\(work)/bundle-policy.json"
        try #"{"default": [{"type": "sigstoreSigned", "keyPath": "\#(work)/p256.pub"}]}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        let pulled = try runMbctl([
            "oci", "download", "--policy", policy, "--registries.d", attachments, "--cache-dir", "\(work)/cache",
            "docker://\(other.host)/carried/app:v1", "\(work)/tree",
        ])
        #expect(pulled.status == 0, "\(pulled.stderr)")
    }

    @Test func gpgSignaturesMbctlMakesAreTheOnesSkopeoAccepts() throws {
        defer { cleanUp() }
        let plain = try SignaturePolicyTests.gpgKey("plain", in: work)
        let locked = try SignaturePolicyTests.gpgKey("locked", in: work, passphrase: "pass phrase")
        defer {
            for home in [plain.home, locked.home] { _ = try? runCommand(["gpgconf", "--kill", "gpg-agent"], environment: ["GNUPGHOME": home], check: false) }
        }
        let staging = "\(work)/lookaside"
        let registriesD = "\(work)/gpg-registries.d"
        try FileManager.default.createDirectory(atPath: registriesD, withIntermediateDirectories: true)
        try "docker:\n  \(registry.host):\n    lookaside: file://\(staging)\n".write(
            toFile: "\(registriesD)/lookaside.yaml", atomically: true, encoding: .utf8)
        let signed = try copy(
            "apps/app:v1", to: "gpg/app:v1", ["--registries.d", registriesD, "--sign-by", plain.fingerprint], environment: ["GNUPGHOME": plain.home])
        #expect(signed.status == 0 && signed.stdout.contains("signatures: 0 copied, 1 made"), "\(signed.stderr)")
        // A wrong passphrase first: gpg's agent keeps a right one for minutes.
        try "wrong\n".write(toFile: "\(work)/wrong", atomically: true, encoding: .utf8)
        let wrong = try copy(
            "apps/app:v1", to: "wrong/app:v1", ["--registries.d", registriesD, "--sign-by", locked.fingerprint, "--sign-passphrase-file", "\(work)/wrong"],
            environment: ["GNUPGHOME": locked.home])
        #expect(wrong.status != 0 && wrong.stderr.contains("the passphrase does not unlock it"), "\(wrong.stderr)")
        #expect(try !hasTag("wrong/app", "v1"))
        let lockedCopy = try copy(
            "apps/app:v1", to: "locked/app:v1",
            ["--registries.d", registriesD, "--sign-by", locked.fingerprint, "--sign-passphrase-file", "\(work)/passphrase"],
            environment: ["GNUPGHOME": locked.home])
        #expect(lockedCopy.status == 0, "\(lockedCopy.stderr)")
        let unknown = try copy(
            "apps/app:v1", to: "unknown/app:v1", ["--registries.d", registriesD, "--sign-by", "0123456789ABCDEF"], environment: ["GNUPGHOME": plain.home])
        #expect(unknown.status != 0 && unknown.stderr.contains("GPG key 0123456789ABCDEF"), "\(unknown.stderr)")
        #expect(try !hasTag("unknown/app", "v1"))

        for (repository, key) in [("gpg/app", plain), ("locked/app", locked)] {
            #expect(FileManager.default.fileExists(atPath: "\(staging)/\(repository)@\(digest.replacingOccurrences(of: ":", with: "="))/signature-1"))
            let policy = "\(work)/\(key.fingerprint).json"
            try #"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "\#(key.publicKey)"}]}"#.write(
                toFile: policy, atomically: true, encoding: .utf8)
            // skopeo checks with an empty GnuPG home of its own: only the policy's key counts.
            let oracle = try runCommand(
                [
                    "skopeo", "copy", "--quiet", "--remove-signatures", "--policy", policy, "--registries.d", registriesD, "--src-tls-verify=false",
                    "docker://\(registry.host)/\(repository):v1", "oci:\(work)/skopeo-\(UUID().uuidString.prefix(8)):t",
                ], environment: ["GNUPGHOME": "\(work)/empty-gnupg", "PATH": "/usr/bin:/bin"], check: false)
            #expect(oracle.status == 0, "skopeo refused what mbctl signed: \(oracle.stderr)")
        }
    }
}
