import Foundation
import TOMLDocument

/// registries.conf, version 2, as containers/image reads it (containers-registries.conf(5)):
/// which registries are blocked or insecure, where a name's registry really is (`location`),
/// the mirrors to try first, and how short names resolve (`[aliases]`,
/// `unqualified-search-registries`). podman and skopeo read the same files, so a site configures
/// its pull-through caches once.
public struct RegistriesConfiguration: Sendable, Equatable {
    public enum PullFromMirror: String, Sendable, Equatable, Decodable {
        case all
        case digestOnly = "digest-only"
        case tagOnly = "tag-only"
    }

    public struct Mirror: Sendable, Equatable {
        public var location: String
        public var insecure: Bool
        public var pullFromMirror: PullFromMirror
    }

    public struct Registry: Sendable, Equatable {
        /// What names it covers: `example.com`, `example.com/team`, or `*.example.com`.
        public var prefix: String
        /// Where those names really are (the prefix replaced by it).
        public var location: String
        public var insecure: Bool
        public var blocked: Bool
        public var mirrorByDigestOnly: Bool
        public var mirrors: [Mirror]
    }

    public var registries: [Registry] = []
    public var unqualifiedSearchRegistries: [String] = []
    public var aliases: [String: String] = [:]

    public init() {}

    // MARK: Reading

    private struct File: Decodable {
        struct MirrorEntry: Decodable {
            var location: String
            var insecure: Bool?
            var pullFromMirror: PullFromMirror?

            enum CodingKeys: String, CodingKey {
                case location, insecure
                case pullFromMirror = "pull-from-mirror"
            }
        }

        struct RegistryEntry: Decodable {
            var prefix: String?
            var location: String?
            var insecure: Bool?
            var blocked: Bool?
            var mirrorByDigestOnly: Bool?
            var mirror: [MirrorEntry]?

            enum CodingKeys: String, CodingKey {
                case prefix, location, insecure, blocked, mirror
                case mirrorByDigestOnly = "mirror-by-digest-only"
            }
        }

        var unqualifiedSearchRegistries: [String]?
        var registry: [RegistryEntry]?
        var aliases: [String: String]?

        enum CodingKeys: String, CodingKey {
            case registry, aliases
            case unqualifiedSearchRegistries = "unqualified-search-registries"
        }
    }

    /// The standard files, in the order they apply: the system file, its drop-ins by name, the
    /// user's file (under `root` when given).
    public static func standardFiles(root: String? = nil, home: String? = ProcessInfo.processInfo.environment["HOME"]) -> [String] {
        let base = root ?? ""
        var files = ["\(base)/etc/containers/registries.conf"]
        let dropIns = "\(base)/etc/containers/registries.conf.d"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dropIns)) ?? []).filter { $0.hasSuffix(".conf") }.sorted()
        files += names.map { "\(dropIns)/\($0)" }
        if let home, !home.isEmpty { files.append("\(base)\(home)/.config/containers/registries.conf") }
        return files
    }

    /// Reads `files` in order (missing ones are skipped): a later file's `[[registry]]` replaces
    /// an earlier one with the same prefix, its aliases are added, and its
    /// `unqualified-search-registries`, when it has them, replace the earlier ones.
    public static func load(_ files: [String]) throws -> RegistriesConfiguration {
        var configuration = RegistriesConfiguration()
        for path in files {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
                throw RegistryError.configuration(source: path, reason: "cannot read it (or it is larger than 1 MiB)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw RegistryError.configuration(source: path, reason: "it is not UTF-8 text")
            }
            try configuration.merge(parsing: text, path: path)
        }
        return configuration
    }

    /// Adds what the text of registries.conf file `path` says.
    public mutating func merge(parsing text: String, path: String) throws {
        let file: File
        do {
            file = try TOMLDocument.decode(File.self, parsing: text)
        } catch let error as TOMLDocument.SyntaxError {
            throw RegistryError.configuration(source: path, reason: error.description)
        } catch {
            throw RegistryError.configuration(source: path, reason: "\(error)")
        }
        if let search = file.unqualifiedSearchRegistries { unqualifiedSearchRegistries = search }
        for (name, value) in file.aliases ?? [:] { aliases[name] = value }
        for entry in file.registry ?? [] {
            guard let prefix = entry.prefix ?? entry.location, !prefix.isEmpty else {
                throw RegistryError.configuration(source: path, reason: "a [[registry]] has neither prefix nor location")
            }
            let registry = Registry(
                prefix: prefix, location: prefix.hasPrefix("*.") ? prefix : (entry.location ?? prefix),
                insecure: entry.insecure ?? false, blocked: entry.blocked ?? false, mirrorByDigestOnly: entry.mirrorByDigestOnly ?? false,
                mirrors: (entry.mirror ?? []).map { Mirror(location: $0.location, insecure: $0.insecure ?? false, pullFromMirror: $0.pullFromMirror ?? .all) })
            registries.removeAll { $0.prefix == prefix }
            registries.append(registry)
        }
    }

    // MARK: Using it

    /// Where to pull `reference` from, in order: the mirrors that may serve it, then the
    /// (possibly rewritten) primary location.
    public struct Endpoint: Sendable, Equatable {
        public var reference: ImageReference
        public var insecure: Bool
        public var isMirror: Bool
    }

    /// The `[[registry]]` covering `reference`: the longest prefix that matches.
    public func registry(for reference: ImageReference) -> Registry? {
        let name = "\(reference.registry)/\(reference.repository)"
        return registries.filter { Self.matches($0.prefix, name: name, host: reference.registry) }
            .max { $0.prefix.count < $1.prefix.count }
    }

    static func matches(_ prefix: String, name: String, host: String) -> Bool {
        if prefix.hasPrefix("*.") {
            let hostName = host.split(separator: ":").first.map(String.init) ?? host
            return hostName.hasSuffix(String(prefix.dropFirst()))
        }
        return name == prefix || name.hasPrefix(prefix + "/")
    }

    public func endpoints(for reference: ImageReference) throws -> [Endpoint] {
        guard let registry = registry(for: reference) else {
            return [Endpoint(reference: reference, insecure: false, isMirror: false)]
        }
        if registry.blocked { throw RegistryError.blocked(registry: reference.registry, prefix: registry.prefix) }
        let name = "\(reference.registry)/\(reference.repository)"
        func moved(to location: String) throws -> ImageReference {
            guard !registry.prefix.hasPrefix("*.") else { return reference }
            var text = location + name.dropFirst(registry.prefix.count)
            if let tag = reference.tag { text += ":\(tag)" }
            if let digest = reference.digest { text += "@\(digest)" }
            return try ImageReference(parsing: text)
        }
        let byDigest = reference.digest != nil
        var endpoints: [Endpoint] = []
        for mirror in registry.mirrors {
            let usable =
                byDigest
                ? mirror.pullFromMirror != .tagOnly
                : !registry.mirrorByDigestOnly && mirror.pullFromMirror != .digestOnly
            guard usable else { continue }
            endpoints.append(Endpoint(reference: try moved(to: mirror.location), insecure: mirror.insecure, isMirror: true))
        }
        endpoints.append(Endpoint(reference: try moved(to: registry.location), insecure: registry.insecure, isMirror: false))
        return endpoints
    }

    /// The fully qualified references a name may mean: an alias of a short name, else the short
    /// name in each search registry, else the name as Docker qualifies it.
    public func candidates(for reference: ImageReference) throws -> [ImageReference] {
        guard let short = reference.shortName else { return [reference] }
        var suffix = reference.tag.map { ":\($0)" } ?? ""
        if let digest = reference.digest { suffix += "@\(digest)" }
        if let alias = aliases[short] {
            return [try ImageReference(parsing: alias + suffix)]
        }
        guard !unqualifiedSearchRegistries.isEmpty else { return [reference] }
        return try unqualifiedSearchRegistries.map { registry in
            // Docker Hub's one-component names live under library/, as Docker qualifies them.
            let name = registry == ImageReference.dockerHub && !short.contains("/") ? "library/\(short)" : short
            return try ImageReference(parsing: "\(registry)/\(name)\(suffix)")
        }
    }

    /// Whether registry `host` is marked insecure.
    /// Marks `host` insecure (https without checking, or plain http), as a `[[registry]]` entry
    /// with `insecure = true` would.
    public mutating func markInsecure(_ host: String) {
        if let index = registries.firstIndex(where: { $0.location == host }) {
            registries[index].insecure = true
        } else {
            registries.append(Registry(prefix: host, location: host, insecure: true, blocked: false, mirrorByDigestOnly: false, mirrors: []))
        }
    }

    public func isInsecure(_ host: String) -> Bool {
        registries.contains { $0.location == host && $0.insecure } || registries.contains { $0.mirrors.contains { $0.location == host && $0.insecure } }
    }
}
