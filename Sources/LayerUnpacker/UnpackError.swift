import SystemErrors

/// Errors of layer application. Each names the layer and, where there is one, the entry at fault.
public enum UnpackError: Error, Equatable, Sendable {
    /// The blob is not compressed as its media type says.
    case compressionMismatch(layer: String, expected: String, found: String)
    /// libarchive could not read the layer (truncated, corrupt, not a tar).
    case unreadable(layer: String, reason: String)
    /// The layer's file could not be opened as one (missing, a FIFO…): `cause` says why.
    case unopenable(layer: String, cause: ErrorCause)
    /// The compressed bytes do not hash to the layer digest.
    case digestMismatch(layer: String, expected: String, actual: String)
    /// The uncompressed tar does not hash to the config's `diff_id` for it.
    case diffIDMismatch(layer: String, expected: String, actual: String)
    /// An entry that cannot be applied, with why.
    case invalidEntry(layer: String, entry: String, reason: String)
    /// A system call failed while applying an entry.
    case entryFailed(layer: String, entry: String, cause: SystemCallError)
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
        case .unopenable(let layer, let cause):
            return "cannot read layer \(layer): \(cause)"
        case .entryFailed(let layer, let entry, let cause):
            return "layer \(layer), entry \"\(entry)\": \(cause)"
        }
    }
}
