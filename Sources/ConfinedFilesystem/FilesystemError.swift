#if canImport(Glibc)
import Glibc
#endif

/// A failed system call on an entry whose full path the failing code does not know; whoever
/// does (the layer unpacker, a tree copy) turns it into an error that names the path.
public struct SystemCallError: Error, Equatable, Sendable {
    public let operation: String
    public let errno: Int32

    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }
}

/// An error of a file operation, naming the path at fault.
public enum FilesystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed on `path`.
    case system(path: String, operation: String, errno: Int32)
    /// `path` cannot be used as it is, for `reason`.
    case refused(path: String, reason: String)

    public var description: String {
        switch self {
        case .system(let path, let operation, let code): return "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        case .refused(let path, let reason): return "\(path): \(reason)"
        }
    }

    /// `error` with its path: a ``SystemCallError`` becomes ``system(path:operation:errno:)``.
    static func naming(_ path: String, _ error: Error) -> Error {
        guard let error = error as? SystemCallError else { return error }
        return FilesystemError.system(path: path, operation: error.operation, errno: error.errno)
    }
}

/// Runs `body`, naming `path` in a ``SystemCallError`` it throws.
func naming<T>(_ path: String, _ body: () throws -> T) throws -> T {
    try FilesystemError.about(path, body)
}

extension FilesystemError {
    /// Runs `body`, turning a ``SystemCallError`` it throws into ``system(path:operation:errno:)``
    /// naming `path`.
    public static func about<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw naming(path, error)
        }
    }
}
