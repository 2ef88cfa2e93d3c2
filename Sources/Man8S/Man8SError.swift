/// Errors of the Man8S layer: machines, their files and addresses. Each names what is at fault.
public enum Man8SError: Error, Equatable, CustomStringConvertible {
    case invalidPrefix(String, reason: String)

    public var description: String {
        switch self {
        case .invalidPrefix(let text, let reason): return "invalid yggdrasil prefix \"\(text)\": \(reason)"
        }
    }
}
