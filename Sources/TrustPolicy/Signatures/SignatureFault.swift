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
    /// Its Rekor log entry (signed entry timestamp) is missing, not signed by the policy's Rekor
    /// keys, or for another signature.
    case unlogged(String)
    /// Its (keyless) certificate does not chain to the policy's CA, or names another issuer or
    /// subject.
    case uncertified(String)
    /// It is signed, but is no signature of an image: an attestation, a signed blob.
    case notAnImageSignature(String)

    public var description: String {
        switch self {
        case .otherKey: return "made by a key the policy does not trust"
        case .otherImage(let digest): return "for another image (\(digest))"
        case .identityMismatch(let signed): return "identity \(signed) does not match"
        case .malformed(let reason): return "malformed: \(reason)"
        case .unlogged(let reason): return "not logged as the policy requires: \(reason)"
        case .uncertified(let reason): return "not certified as the policy requires: \(reason)"
        case .notAnImageSignature(let reason): return "not an image signature: \(reason)"
        }
    }
}
