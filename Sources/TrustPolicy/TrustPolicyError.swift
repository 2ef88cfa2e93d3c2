/// A policy file mbctl cannot use, naming the file and what in it is at fault.
public enum TrustPolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is not a policy containers-policy.json(5) describes.
    case invalidPolicy(source: String, reason: String)

    public var description: String {
        switch self {
        case .invalidPolicy(let source, let reason): return "the signature policy \(source) cannot be used: \(reason)"
        }
    }
}
