#if canImport(Glibc)
import Glibc
#endif

/// Errors of getting and unpacking images that no lower layer reports, each naming the image,
/// path or layer at fault.
public enum ImageAccessError: Error, Equatable, CustomStringConvertible {
    /// The image is not one mbctl can unpack.
    case invalidImage(reason: String)
    /// `oci download`'s target is in use.
    case targetNotEmpty(String)
    /// A file operation on `path` failed.
    case filesystem(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidImage(let reason): return "invalid image: \(reason)"
        case .targetNotEmpty(let path): return "\(path) exists and is not an empty directory; choose another path or empty it"
        case .filesystem(let path, let operation, let code): return "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        }
    }
}
