/// The error underneath another one, kept whole (as Go's `%w` or containerization's `cause`)
/// so that a caller can still ask what it was, while the outer error says where it happened.
/// Two causes are equal when they are of one type and say the same.
public struct ErrorCause: Equatable, Sendable, CustomStringConvertible {
    public let error: any Error

    public init(_ error: any Error) {
        self.error = error
    }

    public var description: String { String(describing: error) }

    public static func == (left: ErrorCause, right: ErrorCause) -> Bool {
        type(of: left.error) == type(of: right.error) && left.description == right.description
    }
}
