#if canImport(Glibc)
import Glibc
#endif

/// Errors of layer application. Each names the layer and, where there is one, the entry at fault.
public enum UnpackError: Error, Equatable, Sendable {
    /// The blob is not compressed as its media type says.
    case compressionMismatch(layer: String, expected: String, found: String)
    /// libarchive could not read the layer (truncated, corrupt, not a tar).
    case unreadable(layer: String, reason: String)
    /// The compressed bytes do not hash to the layer digest.
    case digestMismatch(layer: String, expected: String, actual: String)
    /// The uncompressed tar does not hash to the config's `diff_id` for it.
    case diffIDMismatch(layer: String, expected: String, actual: String)
    /// An entry that cannot be applied, with why.
    case invalidEntry(layer: String, entry: String, reason: String)
    /// A system call failed while applying an entry.
    case system(layer: String, entry: String, operation: String, errno: Int32)
    /// The target root cannot be used.
    case root(path: String, reason: String)
}

extension UnpackError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .compressionMismatch(let layer, let expected, let found):
            return "layer \(layer) is \(found), but its media type says \(expected)"
        case .unreadable(let layer, let reason):
            return "cannot read layer \(layer): \(reason)"
        case .digestMismatch(let layer, let expected, let actual):
            return "layer \(layer) does not match its digest: expected \(expected), got \(actual)"
        case .diffIDMismatch(let layer, let expected, let actual):
            return "layer \(layer) does not match the image config's diff_id: expected \(expected), got \(actual)"
        case .invalidEntry(let layer, let entry, let reason):
            return "layer \(layer), entry \"\(entry)\": \(reason)"
        case .system(let layer, let entry, let operation, let code):
            return "layer \(layer), entry \"\(entry)\": \(operation): \(String(cString: strerror(code)))"
        case .root(let path, let reason):
            return "cannot unpack into \(path): \(reason)"
        }
    }
}
