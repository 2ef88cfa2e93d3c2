import Foundation
import OCILayout
import RegistryClient
import YAMLDocument
import Yams

/// Where the signatures of registry images are, as registries.d (containers-registries.d(5))
/// says: per scope (`docker:` namespaces, then `default-docker:`), a `lookaside` store of
/// simple-signing signatures and whether the registry holds sigstore attachments
/// (`use-sigstore-attachments`).
///
/// Every `*.yaml` file of the directory is read; a scope given by two files is an error naming
/// both, as containers/image has it. Unknown keys and values of the wrong type are refused
/// (a misspelt key must not quietly turn verification into "unsigned").
public struct SignatureStorage: Equatable, Sendable {
    /// What one scope says.
    public struct Scope: Equatable, Sendable {
        public var lookaside: String?
        public var lookasideStaging: String?
        public var useSigstoreAttachments: Bool?

        public init(lookaside: String? = nil, lookasideStaging: String? = nil, useSigstoreAttachments: Bool? = nil) {
            self.lookaside = lookaside
            self.lookasideStaging = lookasideStaging
            self.useSigstoreAttachments = useSigstoreAttachments
        }
    }

    public var defaultDocker: Scope?
    /// Scope (`HOST`, `HOST/REPO`, `HOST/REPO:TAG`, `*.DOMAIN`) → what it says.
    public var docker: [String: Scope]

    /// The largest registries.d file read, and the most files read.
    public static let fileSizeLimit = 1 << 20
    public static let fileCountLimit = 1000

    public init(defaultDocker: Scope? = nil, docker: [String: Scope] = [:]) {
        self.defaultDocker = defaultDocker
        self.docker = docker
    }

    /// What the `*.yaml` files of `directory` say together (nothing, when it does not exist).
    public static func load(directory: String) throws -> SignatureStorage {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        } catch {
            guard FileManager.default.fileExists(atPath: directory) else { return SignatureStorage() }
            throw TrustPolicyError.invalidRegistriesDirectory(source: directory, reason: "it cannot be listed")
        }
        guard names.count <= fileCountLimit else {
            throw TrustPolicyError.invalidRegistriesDirectory(source: directory, reason: "it holds more than \(fileCountLimit) files")
        }
        var storage = SignatureStorage()
        var defaultFrom: String?
        var scopeFrom: [String: String] = [:]
        for name in names {
            let path = "\(directory)/\(name)"
            guard let data = try RegularFileOpening.contents(of: path, limit: fileSizeLimit) else { continue }
            let file = try SignatureStorage(parsing: data, source: path)
            if let scope = file.defaultDocker {
                if let earlier = defaultFrom {
                    throw TrustPolicyError.invalidRegistriesDirectory(source: path, reason: "\"default-docker\" is given in \(earlier) already")
                }
                storage.defaultDocker = scope
                defaultFrom = path
            }
            for (name, scope) in file.docker {
                if let earlier = scopeFrom[name] {
                    throw TrustPolicyError.invalidRegistriesDirectory(source: path, reason: "docker scope \"\(name)\" is given in \(earlier) already")
                }
                storage.docker[name] = scope
                scopeFrom[name] = path
            }
        }
        return storage
    }

    /// The deepest nesting of flow collections (`[`, `{`) a file may have: libyaml's node tree
    /// is built recursively, and registries.d files are two levels deep.
    /// One registries.d file, `source` naming it in messages (read as ``YAMLDocument`` reads YAML).
    public init(parsing data: Data, source: String) throws {
        func fail(_ reason: String) -> TrustPolicyError { .invalidRegistriesDirectory(source: source, reason: reason) }
        let root = try YAMLDocument.root(of: data, fail: fail)
        self.init()
        guard let root, !YAMLDocument.isNull(root) else { return }
        let top = try Self.fields(of: root, at: "the file", allowed: ["default-docker", "docker"], fail: fail)
        if let value = top["default-docker"] { defaultDocker = try Self.scope(value, at: "default-docker", fail: fail) }
        if let value = top["docker"], !YAMLDocument.isNull(value) {
            for (name, value) in try Self.fields(of: value, at: "\"docker\"", allowed: nil, fail: fail) {
                guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0.isNewline }) else { throw fail("docker scope \"\(name)\" is no scope") }
                docker[name] = try Self.scope(value, at: "docker \"\(name)\"", fail: fail)
            }
        }
    }

    static func fields(of node: Node, at place: String, allowed: [String]?, fail: (String) -> TrustPolicyError) throws -> [String: Node] {
        Dictionary(uniqueKeysWithValues: try YAMLDocument.fields(of: node, at: place, allowed: allowed, fail: fail).map { ($0.key, $0.value) })
    }

    static func scope(_ node: Node, at place: String, fail: (String) -> TrustPolicyError) throws -> Scope {
        if YAMLDocument.isNull(node) { return Scope() }
        let known = ["lookaside", "lookaside-staging", "sigstore", "sigstore-staging", "use-sigstore-attachments"]
        let fields = try fields(of: node, at: place, allowed: known, fail: fail)
        func url(_ key: String) throws -> String? {
            guard let value = fields[key] else { return nil }
            guard let text = value.scalar?.string, let parsed = URL(string: text), let scheme = parsed.scheme?.lowercased(),
                ["http", "https", "file"].contains(scheme)
            else {
                throw fail("\(place): \"\(key)\" is not an http://, https:// or file:// URL")
            }
            return text
        }
        var scope = Scope()
        // "sigstore" and "sigstore-staging" are the old names of the lookaside keys.
        scope.lookaside = try url("lookaside") ?? url("sigstore")
        scope.lookasideStaging = try url("lookaside-staging") ?? url("sigstore-staging")
        if let value = fields["use-sigstore-attachments"] {
            guard let flag = value.bool else { throw fail("\(place): \"use-sigstore-attachments\" is not true or false") }
            scope.useSigstoreAttachments = flag
        }
        return scope
    }

    /// The scopes that apply to `reference`, narrowest first, then `default-docker`.
    func scopes(for reference: ImageReference) -> [Scope] {
        let subject = PolicySubject.docker(reference)
        return ([subject.identity] + subject.namespaces).compactMap { docker[$0] } + [defaultDocker].compactMap { $0 }
    }

    /// Whether signatures of `reference` are read from sigstore attachments: the first scope
    /// that says.
    public func usesSigstoreAttachments(for reference: ImageReference) -> Bool {
        scopes(for: reference).lazy.compactMap(\.useSigstoreAttachments).first ?? false
    }

    /// The lookaside base URL for `reference` (reading, or with `writing` the staging one), with
    /// the repository's path appended as containers/image appends it; nil when no scope names one.
    public func lookaside(for reference: ImageReference, writing: Bool = false) -> String? {
        for scope in scopes(for: reference) {
            if writing, let staging = scope.lookasideStaging { return Self.append(reference.repository, to: staging) }
            if let base = scope.lookaside { return Self.append(reference.repository, to: base) }
        }
        return nil
    }

    /// Where containers/image looks for signatures when no scope names a lookaside: root's
    /// lookaside directory.
    public static let builtinLookaside = "/var/lib/containers/sigstore"

    static func append(_ repository: String, to base: String) -> String {
        (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/" + repository
    }
}
