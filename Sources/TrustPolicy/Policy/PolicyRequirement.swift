/// One requirement of a policy scope (containers-policy.json(5)); an image is accepted when it
/// meets every requirement of the scope that applies to it.
public enum PolicyRequirement: Equatable, Sendable {
    /// Anything is accepted, signed or not.
    case insecureAcceptAnything
    /// Nothing is accepted.
    case reject
    /// A "simple signing" signature by one of the keys (`keyType` `GPGKeys`: OpenPGP keys)
    /// that names an identity `signedIdentity` accepts.
    case signedBy(keyType: String, keys: KeySource, signedIdentity: SignedIdentity)
    /// A sigstore (cosign) signature by one of the public keys, or, keyless, by a Fulcio
    /// certificate, that names an identity `signedIdentity` accepts.
    case sigstoreSigned(SigstoreTrust, signedIdentity: SignedIdentity)
    /// containers/image's `signedBaseLayer`: accepted by containers/image without a check;
    /// mbctl treats it as what it is, a requirement it cannot verify, and refuses.
    case signedBaseLayer
}

/// What a `sigstoreSigned` requirement trusts.
public enum SigstoreTrust: Equatable, Sendable {
    /// Public keys (PEM), any of which may have made the signature.
    case keys(KeySource, rekorPublicKeys: KeySource?)
    /// Keyless: a Fulcio certificate chained to `caSource`, issued by `oidcIssuer` to
    /// `subjectEmail`, logged in Rekor (whose key is `rekorPublicKeys`).
    case fulcio(caSource: KeySource, oidcIssuer: String, subjectEmail: String, rekorPublicKeys: KeySource?)
    /// Certificates of an own PKI (`pki`): a root and intermediate CA files, and the subject.
    case pki(roots: KeySource, intermediates: KeySource?, subjectEmail: String?, subjectHostname: String?)
}
