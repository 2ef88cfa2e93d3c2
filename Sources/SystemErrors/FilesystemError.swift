/// A system call that failed on a path: the one filesystem error of mbctl, whichever module
/// made the call. Its message is "cannot OPERATION PATH: what the system said".
public struct FilesystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    /// What was being done to `path`, as a verb phrase: "open", "rename into place".
    public let operation: String
    public let errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    /// `failure`, which happened on `path`.
    public init(path: String, _ failure: SystemCallError) {
        self.init(path: path, operation: failure.operation, errno: failure.errno)
    }

    public var description: String { "cannot \(operation) \(path): \(errorText(errno))" }

    /// `error` with `path` named in it: a ``SystemCallError`` becomes a ``FilesystemError``, an
    /// ``UnexpectedFileKind`` without a path gets this one; every other error is left as it is.
    public static func naming(_ path: String, _ error: Error) -> Error {
        switch error {
        case let failure as SystemCallError: return FilesystemError(path: path, failure)
        case let kind as UnexpectedFileKind where kind.path == nil: return kind.at(path)
        default: return error
        }
    }
}

/// Runs `body`, naming `path` in the path-less errors it throws (``FilesystemError/naming(_:_:)``):
/// code that works through descriptors throws ``SystemCallError``s, its caller knows the path.
public func naming<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw FilesystemError.naming(path, error)
    }
}
