import RegistryClient

/// Which image a signature may vouch for, as containers-policy.json(5) says in `signedIdentity`:
/// the identity a signature names (its `docker-reference`) is checked against the image being
/// pulled, so that a signature of one image cannot be replayed for another.
public enum SignedIdentity: Equatable, Sendable {
    /// The signature names exactly the image pulled, tag or digest (never a bare name).
    case matchExact
    /// As `matchExact` for an image pulled by tag; for one pulled by digest, any tag or digest
    /// of its repository (the digest itself is checked against the signed manifest digest).
    /// The default.
    case matchRepoDigestOrExact
    /// The signature names the image's repository, whatever tag or digest.
    case matchRepository
    /// The signature names exactly `reference`, whatever the image is called (a layout, a
    /// mirror).
    case exactReference(String)
    /// The signature names repository `repository`, whatever tag or digest.
    case exactRepository(String)
    /// The image's name with `prefix` replaced by `signedPrefix` is matched as
    /// `matchRepoDigestOrExact` (a mirror whose images are signed under their upstream names).
    case remapIdentity(prefix: String, signedPrefix: String)

    /// Whether a signature naming `signed` vouches for the image pulled as `intended` (nil: an
    /// image with no registry name, from a layout or an archive).
    public func accepts(signed: String, for intended: ImageReference?) -> Bool {
        guard let signature = try? ImageReference(parsing: signed) else { return false }
        let signatureNamesAnImage = !Self.isNameOnly(signed)
        switch self {
        case .matchExact:
            guard let intended, signatureNamesAnImage else { return false }
            return Self.sameReference(intended, signature)
        case .matchRepoDigestOrExact:
            guard let intended, signatureNamesAnImage else { return false }
            return Self.repoDigestOrExact(intended, signature)
        case .matchRepository:
            guard let intended else { return false }
            return Self.name(of: intended) == Self.name(of: signature)
        case .exactReference(let text):
            guard let wanted = try? ImageReference(parsing: text), !Self.isNameOnly(text), signatureNamesAnImage else { return false }
            return Self.sameReference(wanted, signature)
        case .exactRepository(let text):
            guard let wanted = try? ImageReference(parsing: text) else { return false }
            return Self.name(of: wanted) == Self.name(of: signature)
        case .remapIdentity(let prefix, let signedPrefix):
            guard let intended, signatureNamesAnImage else { return false }
            return Self.repoDigestOrExact(Self.remap(intended, prefix: prefix, to: signedPrefix) ?? intended, signature)
        }
    }

    static func name(of reference: ImageReference) -> String { "\(reference.registry)/\(reference.repository)" }

    /// Whether `text` names a repository only, with neither tag nor digest: such an identity
    /// vouches for no particular image (``ImageReference`` would read it as `:latest`).
    static func isNameOnly(_ text: String) -> Bool {
        guard !text.contains("@") else { return false }
        let last = text.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        return !last.contains(":")
    }

    /// Both name the same tag, or the same digest.
    static func sameReference(_ left: ImageReference, _ right: ImageReference) -> Bool {
        left.description == right.description
    }

    static func repoDigestOrExact(_ intended: ImageReference, _ signature: ImageReference) -> Bool {
        if intended.tag != nil { return sameReference(intended, signature) }
        return name(of: intended) == name(of: signature)
    }

    /// `reference` with its name's `prefix` (whole path components) replaced by `signedPrefix`;
    /// nil when it does not start with the prefix or the result is no reference.
    static func remap(_ reference: ImageReference, prefix: String, to signedPrefix: String) -> ImageReference? {
        let name = name(of: reference)
        guard name == prefix || name.hasPrefix(prefix + "/") else { return nil }
        return try? ImageReference(parsing: signedPrefix + reference.description.dropFirst(prefix.count))
    }
}
