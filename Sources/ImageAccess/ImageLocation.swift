import OCILayout
import RegistryClient

/// Where an image is, written as skopeo writes it:
///
/// - `docker://REFERENCE`, or a bare `REFERENCE`: a registry (``ImageReference``);
/// - `oci:DIR[:TAG]`: an OCI image layout directory;
/// - `oci-archive:FILE[:TAG]`: a tar of an OCI image layout;
/// - `docker-archive:FILE[:REFERENCE]`: what `docker save` writes.
public enum ImageLocation: Sendable, Equatable, CustomStringConvertible {
    case registry(ImageReference)
    case layout(path: String, tag: String?)
    case ociArchive(path: String, tag: String?)
    case dockerArchive(path: String, reference: String?)

    /// Whether this is an image in a registry (`docker://`).
    public var isRegistry: Bool {
        if case .registry = self { return true }
        return false
    }

    /// skopeo transports mbctl does not read, named so the error can say so.
    static let foreignTransports = ["dir", "containers-storage", "docker-daemon", "ostree", "sif", "tarball"]

    public init(parsing text: String) throws {
        func pathAndName(_ rest: Substring, transport: String) throws -> (String, String?) {
            // skopeo splits at the first colon: the path cannot hold one.
            let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let path = parts.first, !path.isEmpty else {
                throw ImageLocationError.invalid(text, reason: "\(transport): needs a path, as \(transport):PATH[:NAME]")
            }
            let name = parts.count == 2 ? String(parts[1]) : nil
            if let name, name.isEmpty {
                throw ImageLocationError.invalid(text, reason: "the name after the path is empty")
            }
            return (String(path), name)
        }
        if text.hasPrefix("docker://") {
            self = .registry(try ImageReference(parsing: String(text.dropFirst("docker://".count))))
        } else if text.hasPrefix("oci:") {
            let (path, tag) = try pathAndName(text.dropFirst(4), transport: "oci")
            self = .layout(path: path, tag: tag)
        } else if text.hasPrefix("oci-archive:") {
            let (path, tag) = try pathAndName(text.dropFirst("oci-archive:".count), transport: "oci-archive")
            self = .ociArchive(path: path, tag: tag)
        } else if text.hasPrefix("docker-archive:") {
            let (path, reference) = try pathAndName(text.dropFirst("docker-archive:".count), transport: "docker-archive")
            self = .dockerArchive(path: path, reference: reference)
        } else if let colon = text.firstIndex(of: ":"), Self.foreignTransports.contains(String(text[..<colon])) {
            throw ImageLocationError.invalid(
                text, reason: "the \(text[..<colon]): transport is not supported; use docker://, oci:, oci-archive: or docker-archive:")
        } else if text.contains("://") {
            throw ImageLocationError.invalid(text, reason: "unknown transport; use docker://, oci:, oci-archive: or docker-archive:")
        } else {
            self = .registry(try ImageReference(parsing: text))
        }
    }

    public var description: String {
        switch self {
        case .registry(let reference): return "docker://\(reference)"
        case .layout(let path, let tag): return "oci:\(path)" + (tag.map { ":\($0)" } ?? "")
        case .ociArchive(let path, let tag): return "oci-archive:\(path)" + (tag.map { ":\($0)" } ?? "")
        case .dockerArchive(let path, let reference): return "docker-archive:\(path)" + (reference.map { ":\($0)" } ?? "")
        }
    }
}

/// Errors in naming an image location.
public enum ImageLocationError: Error, Equatable, CustomStringConvertible {
    case invalid(String, reason: String)
    case unsupported(String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let text, let reason): return "invalid image location \"\(text)\": \(reason)"
        case .unsupported(let text, let reason): return "cannot use \"\(text)\": \(reason)"
        }
    }
}
