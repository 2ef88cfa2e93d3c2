import OCILayout

/// A reference to an image in a registry, normalized exactly as Docker and the containers tools
/// normalize it (distribution/reference):
///
/// | written | registry | repository | tag |
/// | --- | --- | --- | --- |
/// | `busybox` | `docker.io` | `library/busybox` | `latest` |
/// | `index.docker.io/x/y` | `docker.io` | `x/y` | `latest` |
/// | `host:5000/a/b:tag` | `host:5000` | `a/b` | `tag` |
/// | `localhost/x` | `localhost` | `x` | `latest` |
///
/// The first path component is a registry host only if it contains `.` or `:` or is
/// `localhost`. With a digest (`name@sha256:…` or `name:tag@sha256:…`) the digest wins.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The registry host, with port when given (`docker.io`, `127.0.0.1:5000`).
    public let registry: String
    /// The repository path (`library/busybox`).
    public let repository: String
    public let tag: String?
    public let digest: Digest?
    /// The name as typed when it named no registry (`busybox`, `team/app`): registries.conf's
    /// aliases and search registries apply to it.
    public let shortName: String?

    public static let dockerHub = "docker.io"

    public init(parsing text: String) throws {
        func fail(_ reason: String) -> RegistryError { .invalidReference(text, reason: reason) }
        guard !text.isEmpty else { throw fail("it is empty") }

        var remainder = Substring(text)
        var digest: Digest?
        if let at = remainder.firstIndex(of: "@"), let slash = remainder.firstIndex(of: "/"), at < slash {
            // user:password@host/name: said so, and the password is not printed back.
            throw RegistryError.invalidReference(
                "…@" + remainder[remainder.index(after: at)...],
                reason: "credentials do not go into an image reference; pass them with --creds or keep them in an auth file")
        }
        if let at = remainder.firstIndex(of: "@") {
            do {
                digest = try Digest(parsing: String(remainder[remainder.index(after: at)...]))
            } catch {
                throw fail("the digest after @ is not sha256:<64 hex digits>")
            }
            remainder = remainder[..<at]
        }

        var tag: String?
        if let colon = remainder.lastIndex(of: ":"), !remainder[colon...].contains("/") {
            tag = String(remainder[remainder.index(after: colon)...])
            remainder = remainder[..<colon]
            guard let tag, Self.isValidTag(tag) else {
                throw fail("the tag must be 1 to 128 characters of letters, digits, _ . -, not starting with . or -")
            }
        }

        var components = remainder.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var registry = Self.dockerHub
        var shortName: String? = remainder.isEmpty ? nil : String(remainder)
        if components.count > 1, let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost"
        {
            shortName = nil
            guard Self.isValidRegistry(first) else { throw fail("\"\(first)\" is not a valid registry host[:port]") }
            registry = first == "index.docker.io" ? Self.dockerHub : first
            components.removeFirst()
        }
        guard !components.isEmpty, components.allSatisfy({ !$0.isEmpty }) else {
            throw fail("the repository name is empty or has an empty path component")
        }
        for component in components {
            if component.contains(where: { $0.isUppercase }) {
                throw fail("repository names must be lower case")
            }
            guard Self.isValidPathComponent(component) else {
                throw fail("\"\(component)\" may hold only a-z, 0-9 and single separators . _ __ - between them")
            }
        }
        if registry == Self.dockerHub && components.count == 1 {
            components.insert("library", at: 0)
        }
        let repository = components.joined(separator: "/")
        guard registry.count + 1 + repository.count <= 255 else { throw fail("the name is longer than 255 characters") }

        self.registry = registry
        self.repository = repository
        self.shortName = shortName
        self.digest = digest
        self.tag = digest == nil ? (tag ?? "latest") : tag
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The fully qualified form: `docker.io/library/busybox:latest`, `host/a@sha256:…`.
    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// The host to connect to: Docker Hub's API lives at `registry-1.docker.io`.
    public var apiHost: String { registry == Self.dockerHub ? "registry-1.docker.io" : registry }

    // MARK: Grammar (distribution/reference's regular expressions, written out)

    static func isValidTag(_ tag: String) -> Bool {
        guard let first = tag.unicodeScalars.first, tag.unicodeScalars.count <= 128 else { return false }
        func word(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_") }
        return word(first) && tag.unicodeScalars.allSatisfy { word($0) || $0 == "." || $0 == "-" }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidPathComponent(_ component: String) -> Bool {
        let scalars = Array(component.unicodeScalars)
        func alnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        var index = 0
        func run() -> Bool {
            let start = index
            while index < scalars.count, alnum(scalars[index]) { index += 1 }
            return index > start
        }
        guard run() else { return false }
        while index < scalars.count {
            switch scalars[index] {
            case ".": index += 1
            case "_": index += (index + 1 < scalars.count && scalars[index + 1] == "_") ? 2 : 1
            case "-": while index < scalars.count, scalars[index] == "-" { index += 1 }
            default: return false
            }
            guard run() else { return false }
        }
        return true
    }

    /// A DNS name or IPv4 address, or `[IPv6]`, with an optional `:port`.
    static func isValidRegistry(_ text: String) -> Bool {
        var host = Substring(text)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            return isValidPort(host.dropFirst())
        }
        if let colon = host.lastIndex(of: ":") {
            guard isValidPort(host[host.index(after: colon)...]) else { return false }
            host = host[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty
            && labels.allSatisfy { label in
                guard let first = label.first, let last = label.last else { return false }
                return first.isASCII && (first.isLetter || first.isNumber) && last.isASCII && (last.isLetter || last.isNumber)
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
    }

    /// A TCP port: 1 to 65535, decimal digits only.
    private static func isValidPort(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.count <= 5, text.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }), let port = Int(text) else { return false }
        return (1...65535).contains(port)
    }
}
