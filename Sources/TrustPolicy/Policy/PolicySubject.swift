import Foundation
import RegistryClient

/// An image as the policy looks it up: its transport, the identity its scope is looked up by
/// first, and the wider scopes after that (containers/image's `PolicyConfigurationIdentity` and
/// `PolicyConfigurationNamespaces`).
public struct PolicySubject: Equatable, Sendable {
    /// `docker`, `oci`, `oci-archive`, `docker-archive`.
    public let transport: String
    public let identity: String
    /// Wider scopes, narrowest first (the transport's `""` and the default come after them).
    public let namespaces: [String]
    /// The image's registry name, which `signedIdentity` rules compare signatures with; nil for
    /// an image from a layout or an archive.
    public let reference: ImageReference?

    /// An image in a registry: `HOST/REPO:TAG` (or `@DIGEST`), then `HOST/REPO`, each parent
    /// namespace, `HOST`, then `*.DOMAIN` for each parent domain of the host (without a port).
    public static func docker(_ reference: ImageReference) -> PolicySubject {
        let name = "\(reference.registry)/\(reference.repository)"
        let identity = reference.digest.map { "\(name)@\($0)" } ?? "\(name):\(reference.tag ?? "latest")"
        var namespaces: [String] = []
        var scope = name[...]
        while true {
            namespaces.append(String(scope))
            guard let slash = scope.lastIndex(of: "/") else { break }
            scope = scope[..<slash]
        }
        var host = scope.split(separator: ":", maxSplits: 1).first.map(String.init) ?? String(scope)
        while let dot = host.firstIndex(of: ".") {
            host = String(host[host.index(after: dot)...])
            namespaces.append("*." + host)
        }
        return PolicySubject(transport: "docker", identity: identity, namespaces: namespaces, reference: reference)
    }

    /// An image in a layout or archive at `path` (made absolute and canonical by the caller):
    /// looked up by that path, then by each parent directory but `/`.
    public static func file(transport: String, path: String) -> PolicySubject {
        var namespaces: [String] = []
        var scope = path[...]
        while let slash = scope.lastIndex(of: "/"), scope != "/" {
            namespaces.append(String(scope))
            scope = scope[..<slash]
        }
        return PolicySubject(transport: transport, identity: path, namespaces: namespaces, reference: nil)
    }

    /// An image in a docker-archive: containers/image gives such images no identity, so only
    /// the transport's default scope `""` applies.
    public static let dockerArchive = PolicySubject(transport: "docker-archive", identity: "", namespaces: [], reference: nil)
}
