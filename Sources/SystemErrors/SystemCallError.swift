#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed on an entry whose full path the failing code does not know (it
/// works through descriptors); whoever knows the path names it with
/// ``FilesystemError/naming(_:_:)``.
public struct SystemCallError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being done, as a verb phrase: "open", "set xattr user.x".
    public let operation: String
    public let errno: Int32

    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "cannot \(operation): \(errorText(errno))" }
}

/// The C library's text for `code`.
func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
