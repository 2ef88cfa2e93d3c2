/// What keeps `oci sync` from doing its work.
public enum SyncError: Error, Equatable, CustomStringConvertible {
    /// The YAML list of images (`--src yaml`), at a line (0: the whole file).
    case invalidList(line: Int, reason: String)
    /// A source that names no image to sync.
    case invalidSource(String, reason: String)

    public var description: String {
        switch self {
        case .invalidList(let line, let reason): return line > 0 ? "line \(line): \(reason)" : reason
        case .invalidSource(let source, let reason): return "\(source): \(reason)"
        }
    }
}
