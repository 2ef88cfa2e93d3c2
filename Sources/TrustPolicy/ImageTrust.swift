import Foundation
import OCILayout
import RegistryClient

/// What the operator trusts, as the containers tools find it: the signature policy
/// (containers-policy.json(5)) and where signatures are (containers-registries.d(5)).
public struct ImageTrust: Sendable {
    /// Decides by the policy; nil when there is no policy file (images are not verified).
    public let verifier: ImageVerifier?
    public let storage: SignatureStorage
    /// The system the files are of (`--root`).
    public let root: String

    public init(verifier: ImageVerifier?, storage: SignatureStorage, root: String = "/") {
        self.verifier = verifier
        self.storage = storage
        self.root = root
    }

    /// The lookaside store of `reference`'s repository: what registries.d names, else
    /// containers/image's built-in directory (under `root`).
    public func lookaside(for reference: ImageReference) -> String {
        storage.lookaside(for: reference)
            ?? SignatureStorage.append(reference.repository, to: "file://" + (root == "/" ? "" : root) + SignatureStorage.builtinLookaside)
    }

    /// No policy: every image is taken, unverified, as before signature policies.
    public static let none = ImageTrust(verifier: nil, storage: SignatureStorage())

    /// The policy file to read: `explicit` (`--policy`, which must exist), else
    /// `~/.config/containers/policy.json` when it exists, else `/etc/containers/policy.json`,
    /// both under `root`.
    public static func policyPath(explicit: String?, root: String, home: String?) -> String {
        if let explicit { return explicit }
        let base = root == "/" ? "" : root
        if let home, !home.isEmpty {
            let user = "\(base)\(home)/.config/containers/policy.json"
            if FileManager.default.fileExists(atPath: user) { return user }
        }
        return "\(base)/etc/containers/policy.json"
    }

    /// Reads the policy and registries.d as ``policyPath(explicit:root:home:)`` and
    /// ``SignatureStorage/directory(explicit:root:home:)`` find them. A policy named with
    /// `--policy` must exist; without one, a missing standard file means no policy. Key paths
    /// in a policy found under `root` are read under `root` too.
    public static func load(policy explicit: String?, registriesDirectory: String?, root: String, home: String?) throws -> ImageTrust {
        let path = policyPath(explicit: explicit, root: root, home: home)
        let storage = try SignatureStorage.load(directory: SignatureStorage.directory(explicit: registriesDirectory, root: root, home: home))
        guard let data = try RegularFileOpening.contents(of: path, limit: ContainersPolicy.sizeLimit) else {
            if explicit != nil { throw TrustPolicyError.invalidPolicy(source: path, reason: "there is no such file") }
            return ImageTrust(verifier: nil, storage: storage, root: root)
        }
        let policy = try ContainersPolicy(parsing: data, source: path)
        // The key paths of a policy found under `root` are that system's paths; those of a
        // policy named on the command line are this one's.
        return ImageTrust(verifier: ImageVerifier(policy: policy, policySource: path, root: explicit == nil ? root : "/"), storage: storage, root: root)
    }
}
