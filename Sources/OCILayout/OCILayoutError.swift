/// Errors raised by the OCI model and the on-disk image layout.
///
/// Every case carries the digest, path or value at fault, so that the message printed to the
/// user names what went wrong without the caller having to add context.
public enum OCILayoutError: Error, Equatable, Sendable {
    case invalidDigest(String)
    case unsupportedDigestAlgorithm(String)
    case digestMismatch(expected: Digest, actual: Digest)
    case sizeMismatch(digest: Digest, expected: Int64, actual: Int64)
    case tooLarge(what: String, size: Int64, limit: Int64)
    case invalidJSON(what: String, reason: String)
    case blobNotFound(Digest, layout: String)
    case tagNotFound(String, layout: String, available: [String])
    case ambiguousImage(layout: String, available: [String])
    case notALayout(path: String, reason: String)
    case schema1Manifest(image: String)
    case unsupportedManifest(image: String, mediaType: String)
    case noMatchingPlatform(image: String, wanted: String, available: [String])
}

extension OCILayoutError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidDigest(let text):
            return "invalid digest \"\(text)\": expected sha256: followed by 64 lower-case hex digits"
        case .unsupportedDigestAlgorithm(let text):
            return "unsupported digest algorithm in \"\(text)\": only sha256 is supported"
        case .digestMismatch(let expected, let actual):
            return "content does not match its digest: expected \(expected), got \(actual)"
        case .sizeMismatch(let digest, let expected, let actual):
            return "blob \(digest) has \(actual) bytes, but its descriptor says \(expected)"
        case .tooLarge(let what, let size, let limit):
            return "\(what) is \(size) bytes, more than the limit of \(limit) bytes"
        case .invalidJSON(let what, let reason):
            return "\(what) is not valid: \(reason)"
        case .blobNotFound(let digest, let layout):
            return "blob \(digest) is missing from the image layout \(layout)"
        case .tagNotFound(let tag, let layout, let available):
            let list = available.isEmpty ? "it holds no tagged image" : "it holds: " + available.joined(separator: ", ")
            return "no image tagged \"\(tag)\" in the image layout \(layout); \(list)"
        case .ambiguousImage(let layout, let available):
            return "the image layout \(layout) holds several images; name one with \(layout):TAG (it holds: \(available.joined(separator: ", ")))"
        case .notALayout(let path, let reason):
            return "\(path) is not an OCI image layout: \(reason)"
        case .schema1Manifest(let image):
            return "\(image) is a Docker schema 1 image, which mbctl does not support; rebuild or re-push it with a current tool"
        case .unsupportedManifest(let image, let mediaType):
            return "\(image) has a manifest of unsupported type \"\(mediaType)\""
        case .noMatchingPlatform(let image, let wanted, let available):
            return "\(image) has no image for \(wanted); it has: \(available.isEmpty ? "none" : available.joined(separator: ", ")) (choose with --platform)"
        }
    }
}
