/// A path mbctl will not use as it is (a symlink where it follows none, a directory others can
/// write, a lock someone else holds), with why and what to do. Not a failed system call.
public struct RefusedPath: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
