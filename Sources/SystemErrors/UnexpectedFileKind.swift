#if canImport(Glibc)
import Glibc
#endif

/// A file of another kind than mbctl needs where it looked: a FIFO, a device or a symlink
/// where it reads a regular file. Not a failed system call: the file is there, and mbctl
/// refuses it.
public struct UnexpectedFileKind: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where it is; nil while the code that found it works through a descriptor.
    public let path: String?
    /// What it is, for the message: "a FIFO" (``fileKind(_:)``).
    public let kind: String
    /// What mbctl needs there: "a regular file".
    public let expected: String
    /// What the user can do, if anything: appended to the message after "; ".
    public let advice: String?

    public init(path: String?, mode: mode_t, expected: mode_t, advice: String? = nil) {
        self.path = path
        self.kind = fileKind(mode)
        self.expected = fileKind(expected)
        self.advice = advice
    }

    private init(path: String?, kind: String, expected: String, advice: String?) {
        self.path = path
        self.kind = kind
        self.expected = expected
        self.advice = advice
    }

    /// This error at `path`.
    public func at(_ path: String) -> UnexpectedFileKind {
        UnexpectedFileKind(path: path, kind: kind, expected: expected, advice: advice)
    }

    public var description: String {
        "\(path ?? "a file") is \(kind), not \(expected)" + (advice.map { "; \($0)" } ?? "")
    }
}

/// What a file of `mode` is, for messages: "a symlink", "a FIFO", "a directory"...
public func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: return "a regular file"
    case S_IFDIR: return "a directory"
    case S_IFLNK: return "a symlink"
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    default: return "an unknown kind of file"
    }
}
