/// A signature policy or registries.d file mbctl cannot use, or an image the policy refuses.
public enum TrustPolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is not a policy containers-policy.json(5) describes.
    case invalidPolicy(source: String, reason: String)
    /// A registries.d file (containers-registries.d(5)) that cannot be used.
    case invalidRegistriesDirectory(source: String, reason: String)
    /// A key a requirement names cannot be read or is no key of the kind it must be.
    case invalidKey(source: String, reason: String)
    /// The policy refuses `image`.
    case refused(image: String, reason: String)
    /// A key to sign with (a cosign private key, a GPG secret key) cannot be used.
    case invalidSigningKey(source: String, reason: String)
    /// Signatures of `image` cannot be stored where registries.d says, or not at all.
    case signaturesNotStorable(image: String, reason: String)

    public var description: String {
        switch self {
        case .invalidPolicy(let source, let reason): return "the signature policy \(source) cannot be used: \(reason)"
        case .invalidRegistriesDirectory(let source, let reason): return "the registries.d file \(source) cannot be used: \(reason)"
        case .invalidKey(let source, let reason): return "the policy's key \(source) cannot be used: \(reason)"
        case .refused(let image, let reason): return "\(image) is refused by the signature policy: \(reason)"
        case .invalidSigningKey(let source, let reason): return "the signing key \(source) cannot be used: \(reason)"
        case .signaturesNotStorable(let image, let reason): return "signatures of \(image) cannot be stored: \(reason)"
        }
    }
}
