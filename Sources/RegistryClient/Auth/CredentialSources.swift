import Foundation

/// Where registry credentials come from, searched in the order the containers tools use
/// (containers-auth.json(5)):
///
/// 1. `--creds USER:PASS`;
/// 2. `--authfile FILE`, and then only that file;
/// 3. `$REGISTRY_AUTH_FILE`, and then only that file;
/// 4. `$XDG_RUNTIME_DIR/containers/auth.json`;
/// 5. `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/containers/auth.json`);
/// 6. `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`).
///
/// In each file, a `credHelpers` entry for the registry wins, then an `auths` entry (the most
/// specific `registry/namespace/repo` key first), then the file's `credsStore` helper.
public struct CredentialSources: Sendable {
    public var explicit: RegistryCredentials?
    /// Credentials given for one registry host (oci sync's image lists), before all others.
    public var perRegistry: [String: RegistryCredentials] = [:]
    public var authFile: String?
    public var environment: [String: String]
    public var homeDirectory: String

    public init(
        explicit: RegistryCredentials? = nil,
        authFile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        homeDirectory: String = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    ) {
        self.explicit = explicit
        self.authFile = authFile
        self.environment = environment
        self.homeDirectory = homeDirectory
    }

    /// The auth files consulted, in order.
    public var authFiles: [String] {
        if let authFile { return [authFile] }
        if let file = environment["REGISTRY_AUTH_FILE"], !file.isEmpty { return [file] }
        var files: [String] = []
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            files.append("\(runtime)/containers/auth.json")
        }
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(homeDirectory)/.config"
        files.append("\(config)/containers/auth.json")
        let docker = environment["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(homeDirectory)/.docker"
        files.append("\(docker)/config.json")
        return files
    }

    /// The credentials for `repository` on `registry`, or nil to go anonymous.
    public func credentials(registry: String, repository: String) throws -> RegistryCredentials? {
        if let given = perRegistry[registry] { return given }
        if let explicit { return explicit }
        let explicitFile = authFile ?? environment["REGISTRY_AUTH_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        for path in authFiles {
            guard let data = FileManager.default.contents(atPath: path) else {
                if path == explicitFile && !FileManager.default.fileExists(atPath: path) {
                    throw RegistryError.credentials(source: path, reason: "the auth file does not exist")
                }
                continue
            }
            switch try AuthFile(data: data, path: path).lookup(registry: registry, repository: repository) {
            case .helper(let name): return try CredentialHelper(name: name).get(registry: registry)
            case .found(let credentials): return credentials
            case .none: continue
            }
        }
        return nil
    }
}

/// One `auth.json` / docker `config.json`, read (its helpers are not run here).
public struct AuthFile: Sendable {
    struct Entry: Decodable {
        var auth: String?
        var username: String?
        var password: String?
    }

    struct Document: Decodable {
        var auths: [String: Entry]?
        var credHelpers: [String: String]?
        var credsStore: String?
    }

    let path: String
    let document: Document

    public init(data: Data, path: String) throws {
        self.path = path
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw RegistryError.credentials(source: path, reason: "not a valid auth file (expected {\"auths\": {…}})")
        }
    }

    /// What the file says for `repository` on `registry`.
    public enum Lookup: Equatable {
        /// Ask this credential helper (`docker-credential-NAME`).
        case helper(String)
        case found(RegistryCredentials)
        case none
    }

    /// A `credHelpers` entry for the registry wins, then an `auths` entry, then `credsStore`.
    public func lookup(registry: String, repository: String) throws -> Lookup {
        if let helper = document.credHelpers?.first(where: { Self.normalize($0.key) == registry })?.value {
            return .helper(helper)
        }
        if let entry = entry(registry: registry, repository: repository) {
            return try decode(entry, key: registry).map(Lookup.found) ?? .none
        }
        if let store = document.credsStore, !store.isEmpty {
            return .helper(store)
        }
        return .none
    }

    /// The `auths` entry for the most specific key: `registry/a/b`, then `registry/a`, then
    /// `registry` (legacy `https://registry/v1/` keys count as `registry`).
    private func entry(registry: String, repository: String) -> Entry? {
        guard let auths = document.auths else { return nil }
        var normalized: [String: Entry] = [:]
        for (key, value) in auths {
            let name = Self.normalize(key)
            if normalized[name] == nil || key == name { normalized[name] = value }
        }
        var components = repository.split(separator: "/").map(String.init)
        while !components.isEmpty {
            if let found = normalized["\(registry)/\(components.joined(separator: "/"))"] { return found }
            components.removeLast()
        }
        return normalized[registry]
    }

    private func decode(_ entry: Entry, key: String) throws -> RegistryCredentials? {
        if let auth = entry.auth, !auth.isEmpty {
            guard let decoded = Data(base64Encoded: auth).flatMap({ String(data: $0, encoding: .utf8) }),
                let colon = decoded.firstIndex(of: ":")
            else {
                throw RegistryError.credentials(source: path, reason: "the \"auth\" of \(key) is not base64 of USER:PASSWORD")
            }
            return RegistryCredentials(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
        }
        if let username = entry.username, let password = entry.password {
            return RegistryCredentials(username: username, password: password)
        }
        return nil
    }

    /// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/v2/` → `host:5000`.
    static func normalize(_ key: String) -> String {
        var name = key
        for scheme in ["https://", "http://"] where name.hasPrefix(scheme) {
            name = String(name.dropFirst(scheme.count))
            if let slash = name.firstIndex(of: "/") { name = String(name[..<slash]) }
        }
        if name == "index.docker.io" || name == "registry-1.docker.io" { return ImageReference.dockerHub }
        if name.hasPrefix("index.docker.io/") { return ImageReference.dockerHub + name.dropFirst("index.docker.io".count) }
        return name
    }
}
