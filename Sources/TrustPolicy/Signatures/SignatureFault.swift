/// Why one signature was not accepted: what a refusal counts and names.
public enum SignatureFault: Error, Sendable, Equatable, CustomStringConvertible {
    /// None of the policy's keys made it.
    case otherKey
    /// A trusted key made it, for another manifest.
    case otherImage(signed: String)
    /// A trusted key made it, for a name the policy's `signedIdentity` does not accept.
    case identityMismatch(signed: String)
    /// It is no signature mbctl can read (bad base64, JSON, size).
    case malformed(String)
    /// It needs what mbctl does not check (a keyless certificate, say).
    case unsupported(String)

    public var description: String {
        switch self {
        case .otherKey: return "made by a key the policy does not trust"
        case .otherImage(let digest): return "for another image (\(digest))"
        case .identityMismatch(let signed): return "identity \(signed) does not match"
        case .malformed(let reason): return "malformed: \(reason)"
        case .unsupported(let reason): return "not supported: \(reason)"
        }
    }
}
