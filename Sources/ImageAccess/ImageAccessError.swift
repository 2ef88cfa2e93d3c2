/// Errors of getting and unpacking images that no lower layer reports, each naming the image,
/// path or layer at fault.
public enum ImageAccessError: Error, Equatable, CustomStringConvertible {
    /// The image is not one mbctl can unpack.
    case invalidImage(reason: String)
    /// `oci download`'s target is in use.
    case targetNotEmpty(String)

    public var description: String {
        switch self {
        case .invalidImage(let reason): return "invalid image: \(reason)"
        case .targetNotEmpty(let path): return "\(path) exists and is not an empty directory; choose another path or empty it"
        }
    }
}
