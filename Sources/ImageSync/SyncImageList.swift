import Foundation
import RegistryClient
import YAMLDocument
import Yams

/// The YAML list of images `skopeo sync --src yaml` reads, as skopeo reads it: per registry,
///
/// ```yaml
/// registry.example.com:
///   images:                      # repositories and their tags ([] or none: every tag)
///     busybox: []
///     redis: ["7.2", "7.4"]
///   images-by-tag-regex:         # every tag the regular expression finds something in
///     nginx: ^1\.27\.\d+-alpine$
///   images-by-semver:            # every tag that is a version within the constraint
///     alpine: ">= 3.19.0"
///   credentials: {username: john, password: secret}
///   tls-verify: false            # https without checking, or plain http
///   cert-dir: /etc/mbctl/certs   # CA, client certificate and key for this registry
/// ```
///
/// Every key is checked: an unknown one, a wrong type or a regular expression that does not
/// compile is an error naming its line, before anything is fetched.
public struct SyncImageList: Sendable {
    public struct Registry: Sendable {
        public var host: String
        /// Repositories with the tags given (none: every tag).
        public var images: [(repository: String, tags: [String])] = []
        public var tagPatterns: [(repository: String, pattern: String)] = []
        public var versionRanges: [(repository: String, constraint: SemverConstraint)] = []
        public var credentials: RegistryCredentials?
        public var tlsVerify: Bool?
        public var certDirectory: String?
    }

    public var registries: [Registry]

    public init(data: Data) throws {
        let root = try YAMLDocument.root(of: data) { SyncError.invalidList(line: 0, reason: $0) }
        guard let root, !YAMLDocument.isNull(root) else {
            registries = []
            return
        }
        func fail(_ node: Node) -> (String) -> Error { { SyncError.invalidList(line: YAMLDocument.line(of: node), reason: $0) } }
        func string(_ node: Node, _ place: String) throws -> String {
            guard let text = node.scalar?.string, !YAMLDocument.isNull(node) else { throw fail(node)("\(place) is not a string") }
            return text
        }
        var registries: [Registry] = []
        for (host, value) in try YAMLDocument.fields(of: root, at: "the list", allowed: nil, fail: fail(root)) {
            guard !host.isEmpty, !host.contains("/"), !host.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw fail(value)("\"\(host)\" is no registry host")
            }
            let known = ["images", "images-by-tag-regex", "images-by-semver", "credentials", "tls-verify", "cert-dir"]
            var registry = Registry(host: host)
            for (key, node) in try YAMLDocument.fields(of: value, at: "registry \(host)", allowed: known, fail: fail(value)) {
                let place = "\(host) \(key)"
                switch key {
                case "images":
                    for (repository, tags) in try YAMLDocument.fields(of: node, at: place, allowed: nil, fail: fail(node)) {
                        if YAMLDocument.isNull(tags) {
                            registry.images.append((repository, []))
                            continue
                        }
                        guard let sequence = tags.sequence else { throw fail(tags)("the tags of \(repository) are not a list") }
                        registry.images.append((repository, try sequence.map { try string($0, "a tag of \(repository)") }))
                    }
                case "images-by-tag-regex":
                    for (repository, pattern) in try YAMLDocument.fields(of: node, at: place, allowed: nil, fail: fail(node)) {
                        let text = try string(pattern, "the pattern of \(repository)")
                        guard (try? Regex(text)) != nil else { throw fail(pattern)("the pattern of \(repository) is not a regular expression") }
                        registry.tagPatterns.append((repository, text))
                    }
                case "images-by-semver":
                    for (repository, constraint) in try YAMLDocument.fields(of: node, at: place, allowed: nil, fail: fail(node)) {
                        do {
                            registry.versionRanges.append((repository, try SemverConstraint(parsing: try string(constraint, "the range of \(repository)"))))
                        } catch let error as SyncError {
                            throw fail(constraint)("\(error)")
                        }
                    }
                case "credentials":
                    let fields = try YAMLDocument.fields(of: node, at: place, allowed: ["username", "password"], fail: fail(node))
                    guard let username = fields.first(where: { $0.key == "username" }), let password = fields.first(where: { $0.key == "password" })
                    else { throw fail(node)("\(place) needs username and password") }
                    registry.credentials = RegistryCredentials(
                        username: try string(username.value, "the username"), password: try string(password.value, "the password"))
                case "tls-verify":
                    guard let flag = node.bool else { throw fail(node)("\(place) is not true or false") }
                    registry.tlsVerify = flag
                default:
                    registry.certDirectory = try string(node, place)
                }
            }
            for (repository, _) in registry.images + registry.tagPatterns.map({ ($0.repository, [String]()) })
                + registry.versionRanges.map({ ($0.repository, [String]()) })
            {
                guard (try? ImageReference(parsing: "\(host)/\(repository)")) != nil else {
                    throw fail(value)("\(host)/\(repository) is not a repository")
                }
            }
            registries.append(registry)
        }
        self.registries = registries
    }
}
