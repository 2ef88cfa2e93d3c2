import SystemErrors

/// Errors of reading and writing image archives, naming the archive and, where there is one,
/// the entry at fault.
public enum ArchiveError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidArchive(path: String, reason: String)
    case invalidArchiveEntry(path: String, entry: String, reason: String)
    /// An entry whose content is not what the archive says (its digest or size): `cause`.
    case damagedEntry(path: String, entry: String, cause: ErrorCause)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidArchive(let path, let reason): return "archive \(path): \(reason)"
        case .invalidArchiveEntry(let path, let entry, let reason): return "archive \(path), entry \"\(entry)\": \(reason)"
        case .damagedEntry(let path, let entry, let cause): return "archive \(path), entry \"\(entry)\": \(cause)"
        case .cannotWrite(let path, let reason): return "cannot write archive \(path): \(reason)"
        }
    }
}
