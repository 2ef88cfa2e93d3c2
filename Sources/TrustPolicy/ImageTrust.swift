import Foundation
import OCILayout
import RegistryClient

/// What the operator trusts, as the containers tools find it: the signature policy
/// (containers-policy.json(5)) and where signatures are (containers-registries.d(5)).
public struct ImageTrust: Sendable {
    /// Decides by the policy; nil when there is no policy file (images are not verified).
    public let verifier: ImageVerifier?
    public let storage: SignatureStorage
    /// The directory the system's files are under (`--root`); nil for the running system.
    public let root: String?

    public init(verifier: ImageVerifier?, storage: SignatureStorage, root: String? = nil) {
        self.verifier = verifier
        self.storage = storage
        self.root = root
    }

    /// The lookaside store of `reference`'s repository (to read, or with `writing` to write
    /// to): what registries.d names, else containers/image's built-in directory (under `root`).
    public func lookaside(for reference: ImageReference, writing: Bool = false) -> String {
        storage.lookaside(for: reference, writing: writing)
            ?? SignatureStorage.append(reference.repository, to: "file://" + (root ?? "") + SignatureStorage.builtinLookaside)
    }

    /// No policy: every image is taken, unverified, as before signature policies.
    public static let none = ImageTrust(verifier: nil, storage: SignatureStorage())

    /// The containers tools' file or directory `name`: the user's (`~/.config/containers/NAME`)
    /// when it exists, else the system's (`/etc/containers/NAME`), both under `root`.
    static func containersFile(_ name: String, root: String?, home: String?) -> String {
        let base = root ?? ""
        if let home, !home.isEmpty, FileManager.default.fileExists(atPath: "\(base)\(home)/.config/containers/\(name)") {
            return "\(base)\(home)/.config/containers/\(name)"
        }
        return "\(base)/etc/containers/\(name)"
    }

    /// Reads the policy (`explicit`, `--policy`, else ~/.config/containers/policy.json or
    /// /etc/containers/policy.json) and registries.d (`registriesDirectory`, `--registries.d`,
    /// else ~/.config/containers/registries.d or /etc/containers/registries.d), as
    /// ``containersFile(_:root:home:)`` finds them. A policy named with
    /// `--policy` must exist; without one, a missing standard file means no policy. Key paths
    /// in a policy found under `root` are read under `root` too.
    public static func load(policy explicit: String?, registriesDirectory: String?, root: String?, home: String?) throws -> ImageTrust {
        let path = explicit ?? containersFile("policy.json", root: root, home: home)
        let storage = try SignatureStorage.load(directory: registriesDirectory ?? containersFile("registries.d", root: root, home: home))
        guard let data = try RegularFileOpening.contents(of: path, limit: ContainersPolicy.sizeLimit) else {
            if explicit != nil { throw TrustPolicyError.invalidPolicy(source: path, reason: "there is no such file") }
            return ImageTrust(verifier: nil, storage: storage, root: root)
        }
        let policy = try ContainersPolicy(parsing: data, source: path)
        // The key paths of a policy found under `root` are that system's paths; those of a
        // policy named on the command line are this one's.
        return ImageTrust(verifier: ImageVerifier(policy: policy, policySource: path, root: explicit == nil ? root : nil), storage: storage, root: root)
    }
}
