import Foundation

/// Errors of the Man8S layer: machines, their files and addresses. Each names what is at fault.
public enum Man8SError: Error, Equatable, CustomStringConvertible {
    case invalidPrefix(String, reason: String)
    case targetNotEmpty(String)
    case filesystem(path: String, operation: String, errno: Int32)
    case invalidImage(reason: String)
    case invalidMachineName(String, reason: String)
    case unrepresentable(what: String, reason: String)

    public var description: String {
        switch self {
        case .invalidPrefix(let text, let reason): return "invalid yggdrasil prefix \"\(text)\": \(reason)"
        case .targetNotEmpty(let path): return "\(path) exists and is not an empty directory; choose another path or empty it"
        case .filesystem(let path, let operation, let code): return "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        case .invalidImage(let reason): return "invalid image: \(reason)"
        case .invalidMachineName(let name, let reason): return "invalid machine name \"\(name)\": \(reason)"
        case .unrepresentable(let what, let reason): return "cannot write \(what): \(reason)"
        }
    }
}
