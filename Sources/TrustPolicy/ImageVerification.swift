/// How an image was let in: what `machines show` says of each generation, kept in the
/// generation's record.
public struct ImageVerification: Codable, Sendable, Equatable {
    /// The policy file that decided; nil when there was none (the image was not verified).
    public var policy: String?
    /// The scope of the policy whose requirements applied (`docker:HOST/REPO`, `default`).
    public var scope: String?
    /// How each requirement of the scope was met, in order: "insecureAcceptAnything",
    /// "sigstoreSigned by ECDSA P-256 key sha256:… as HOST/REPO:TAG".
    public var requirements: [String]
    /// The manifest digest that was verified.
    public var manifestDigest: String?

    public init(policy: String?, scope: String?, requirements: [String], manifestDigest: String?) {
        self.policy = policy
        self.scope = scope
        self.requirements = requirements
        self.manifestDigest = manifestDigest
    }

    /// An image taken without a policy.
    public static let notVerified = ImageVerification(policy: nil, scope: nil, requirements: [], manifestDigest: nil)

    /// One line: "not verified (no signature policy)", or the scope and how it was met.
    public var summary: String {
        guard let policy else { return "not verified (no signature policy)" }
        return "\(requirements.joined(separator: "; ")) (\(scope ?? "default") of \(policy))"
    }
}
