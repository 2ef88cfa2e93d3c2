import Foundation
import ImageAccess
import Crypto
import ImageArchive
import LayerUnpacker
import Man8S
import OCILayout
import RegistryClient
import TrustPolicy

/// Everything mbctl parses from bytes it does not control, one entry point each, for libFuzzer
/// (`scripts/fuzz`) and for `swift test`, which replays the corpora in `Tests/Fixtures/fuzz`.
///
/// A target must never trap, hang or blow up, whatever the bytes: errors are the expected
/// answer to garbage and are ignored here.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `docker://…`, `oci:…`, bare references: image locations as users and files name them.
    case reference
    /// `WWW-Authenticate` headers.
    case challenge
    /// Token servers' JSON answers.
    case token
    /// Manifests and indexes, with their media type probe.
    case manifest
    /// Image configs, and the machine files mbctl writes from them (volumes, Env, WorkingDir).
    case config
    /// oci-archive and docker-archive files.
    case archive
    /// A layer (an uncompressed tar) applied to a scratch root: no entry may change anything
    /// outside the root. scripts/fuzz runs this one as nobody, so that a breakout the fuzzer
    /// finds cannot harm the machine it runs on.
    case layer
    /// `auth.json` and docker `config.json`.
    case authfile
    /// mbctl's configuration file, registries.conf, a machine's `man8env.env`, a machines file
    /// (`machines apply`) and an image's `/etc/hosts`.
    case configfile
    /// A signature policy (containers-policy.json) and a registries.d file, with the lookups
    /// they answer.
    case policy
    /// What a signature carries: its payload (sigstore and simple signing), a PEM public key,
    /// a base64 signature checked with a fixed key.
    case signature

    /// A P-256 key that signatures are checked with (the fuzzer's bytes are never its signatures).
    static let fixedKey = SigstorePublicKey(
        pem:
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFNLqFhf4fiN6o/glAuYnq2jYUeL0\nvRuLu/z39pmbVwS9ff5AYnlwaP9sxREajdLY9ynM6G1sy6AAmb7Z63TsLg==\n-----END PUBLIC KEY-----\n"
    )

    /// Feeds `data` to the target's parsers.
    public func run(_ data: Data) {
        switch self {
        case .reference:
            let text = String(decoding: data, as: UTF8.self)
            _ = try? ImageLocation(parsing: text)
            _ = try? ImageReference(parsing: text)
            _ = try? VolumePath(text)
            _ = Platform(parsing: text)
        case .challenge:
            for challenge in AuthenticationChallenge.parse(String(decoding: data, as: UTF8.self)) {
                _ = challenge.parameters["realm"].flatMap(URLComponents.init(string:))
            }
        case .token:
            _ = TokenResponse(parsing: [UInt8](data))
        case .manifest:
            _ = try? MediaType.ofManifest(data, declared: nil, image: "fuzz")
            _ = try? JSONDecoder.decodeDocument(ImageManifest.self, from: data, what: "fuzz")
            if let index = try? JSONDecoder.decodeDocument(ImageIndex.self, from: data, what: "fuzz") {
                _ = index.manifests.compactMap(\.platform).map { $0.matches(.host) }
            }
        case .config:
            Self.machineFiles(data)
        case .archive:
            Self.archive(data)
        case .layer:
            Self.layer(data)
        case .authfile:
            if let file = try? AuthFile(data: data, path: "fuzz") {
                for (registry, repository) in [("docker.io", "library/busybox"), ("127.0.0.1:5000", "a/b/c"), ("quay.io", "x")] {
                    _ = try? file.lookup(registry: registry, repository: repository)
                }
            }
        case .configfile:
            let text = String(decoding: data, as: UTF8.self)
            _ = try? ConfigurationFile(text: text, path: "fuzz")
            var registries = RegistriesConfiguration()
            if (try? registries.merge(parsing: text, path: "fuzz")) != nil {
                for name in ["docker.io/library/busybox:1", "quay.io/a/b@sha256:" + String(repeating: "a", count: 64), "x.example.com/y"] {
                    guard let reference = try? ImageReference(parsing: name) else { continue }
                    _ = try? registries.endpoints(for: reference)
                    _ = registries.isInsecure(reference.registry)
                }
                if let short = try? ImageReference(parsing: "busybox") { _ = try? registries.candidates(for: short) }
            }
            _ = EnvironmentFile.parse(text)
            _ = try? MachinesFile(text: text, path: "fuzz")
            _ = HostsEntry.parse(text).map(\.description)
        case .policy:
            let references = ["docker.io/library/busybox:1", "quay.io/a/b@sha256:" + String(repeating: "a", count: 64), "x.example.com:5000/y/z:t"]
                .compactMap { try? ImageReference(parsing: $0) }
            if let policy = try? ContainersPolicy(parsing: data, source: "fuzz") {
                for reference in references {
                    for requirement in policy.requirements(for: .docker(reference)).requirements {
                        if case .sigstoreSigned(_, let identity) = requirement { _ = identity.accepts(signed: "quay.io/a/b:t", for: reference) }
                        if case .signedBy(_, _, let identity) = requirement { _ = identity.accepts(signed: "x.example.com:5000/y/z", for: reference) }
                    }
                }
                _ = policy.requirements(for: .file(transport: "oci", path: "/var/lib/images/a"))
            }
            if let storage = try? SignatureStorage(parsing: data, source: "fuzz") {
                for reference in references {
                    _ = storage.usesSigstoreAttachments(for: reference)
                    _ = storage.lookaside(for: reference, writing: true)
                }
            }
        case .signature:
            for type in [SignaturePayload.sigstoreType, SignaturePayload.simpleSigningType] { _ = try? SignaturePayload(parsing: data, type: type) }
            let text = String(decoding: data, as: UTF8.self)
            _ = SigstorePublicKey(pem: text).map(\.fingerprint)
            if let key = Self.fixedKey {
                _ = key.isValidSignature(Data(base64Encoded: text) ?? data, of: data)
            }
        }
    }

    /// An image config turned into the machine's nspawn file and man8env.env, as a pull does.
    static func machineFiles(_ data: Data) {
        guard let configuration = try? JSONDecoder.decodeDocument(ImageConfiguration.self, from: data, what: "fuzz"),
            let prefix = try? IPv6Prefix(parsing: "300:2e98:a4b0:1789::/64"), let name = try? MachineName("fuzz")
        else { return }
        let runtime = configuration.config ?? ImageConfiguration.RuntimeSettings()
        var volumes: [VolumeMapping] = []
        for key in (runtime.volumes ?? [:]).keys.sorted() {
            guard let path = try? VolumePath(key) else { continue }
            volumes.append(VolumeMapping(containerPath: path, choice: .data, hostPath: "/var/lib/man8machine_storage/fuzz\(path)"))
        }
        let definition = MachineDefinition(
            name: name, address: YggdrasilAddress(machineName: name.value, prefix: prefix), image: "fuzz",
            createdAt: Date(timeIntervalSince1970: 0), runtime: runtime, volumes: volumes, layout: HostLayout())
        _ = try? NspawnFile.render(definition)
        _ = try? EnvironmentFile.render(definition, version: "fuzz")
        _ = definition.droppedEnvironment
    }

    /// The bytes as an archive file, imported into a scratch cache (on /dev/shm where there is
    /// one: the fuzzer runs this thousands of times a second).
    static func archive(_ data: Data) {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let scratch = "\(base)/mbctl-fuzz-\(getpid())"
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        guard (try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)) != nil,
            FileManager.default.createFile(atPath: "\(scratch)/archive.tar", contents: data),
            let cache = try? ImageLayout.openOrCreate(at: "\(scratch)/cache")
        else { return }
        for kind in [ArchiveImageSource.Kind.oci, .docker] {
            _ = try? ArchiveImageSource.open(path: "\(scratch)/archive.tar", kind: kind, name: nil, cache: cache.store)
        }
    }

    /// Applies the bytes as a layer to an empty root beside a sentinel directory, and traps if
    /// anything but the root changed.
    static func layer(_ data: Data) {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let scratch = "\(base)/mbctl-fuzz-layer-\(getpid())"
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        guard (try? FileManager.default.createDirectory(atPath: "\(scratch)/root", withIntermediateDirectories: true)) != nil,
            (try? FileManager.default.createDirectory(atPath: "\(scratch)/outside", withIntermediateDirectories: true)) != nil,
            FileManager.default.createFile(atPath: "\(scratch)/outside/sentinel", contents: Data("sentinel".utf8)),
            FileManager.default.createFile(atPath: "\(scratch)/layer.tar", contents: data)
        else { return }
        let digest = "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let blob = LayerBlob(path: "\(scratch)/layer.tar", compression: .none, digest: digest, diffID: digest)
        _ = try? LayerUnpacker(rootPath: "\(scratch)/root", workers: 0).apply(blob)
        let around = Set((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? [])
        let outside = (try? FileManager.default.contentsOfDirectory(atPath: "\(scratch)/outside")) ?? []
        let sentinel = FileManager.default.contents(atPath: "\(scratch)/outside/sentinel")
        precondition(
            around == ["root", "outside", "layer.tar"] && outside == ["sentinel"] && sentinel == Data("sentinel".utf8),
            "the layer changed something outside the root: \(around) \(outside)")
    }
}
