import Foundation

/// A signature policy as containers-policy.json(5) writes it, the file podman and skopeo read:
/// requirements by transport and scope, and a default for everything else.
///
/// The file is read strictly, as containers/image reads it: an unknown field, an empty list of
/// requirements, a scope that cannot match or a missing `default` is an error naming the place,
/// never a requirement quietly dropped.
public struct ContainersPolicy: Equatable, Sendable {
    public var defaultRequirements: [PolicyRequirement]
    /// Transport name → scope → requirements (`""`: the transport's own default).
    public var transports: [String: [String: [PolicyRequirement]]]

    /// The largest policy file read (a policy is a few KiB).
    public static let sizeLimit = 1 << 20

    /// The policy in `data`, read from `source` (for messages).
    public init(parsing data: Data, source: String) throws {
        guard data.count <= Self.sizeLimit else {
            throw TrustPolicyError.invalidPolicy(source: source, reason: "it is \(data.count) bytes, more than the limit of \(Self.sizeLimit)")
        }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TrustPolicyError.invalidPolicy(source: source, reason: "it is not JSON")
        }
        if let key = DuplicateKeyCheck.firstDuplicate(in: data) {
            throw TrustPolicyError.invalidPolicy(source: source, reason: "an object has the key \"\(key)\" twice")
        }
        let top = try StrictJSONObject(value, at: "the policy", source: source, allowed: ["default", "transports"])
        guard top.has("default") else { throw TrustPolicyError.invalidPolicy(source: source, reason: "it has no \"default\" requirements") }
        defaultRequirements = try Self.requirements(top.fields["default"], at: "default", source: source)
        transports = [:]
        guard let transportsValue = top.fields["transports"] else { return }
        guard let byTransport = transportsValue as? [String: Any] else {
            throw TrustPolicyError.invalidPolicy(source: source, reason: "\"transports\" is not a JSON object")
        }
        for (transport, scopesValue) in byTransport {
            guard let scopes = scopesValue as? [String: Any] else {
                throw TrustPolicyError.invalidPolicy(source: source, reason: "transports.\(transport) is not a JSON object")
            }
            var parsed: [String: [PolicyRequirement]] = [:]
            for (scope, requirementsValue) in scopes {
                let place = "transports.\(transport)[\"\(scope)\"]"
                if let reason = Self.invalidScope(scope, transport: transport) {
                    throw TrustPolicyError.invalidPolicy(source: source, reason: "\(place): \(reason)")
                }
                parsed[scope] = try Self.requirements(requirementsValue, at: place, source: source)
            }
            transports[transport] = parsed
        }
    }

    /// The requirements that apply to `subject`, and the scope they are written under (for
    /// messages): its identity, then each wider namespace, then the transport's `""`, then the
    /// default, the first that the policy has.
    public func requirements(for subject: PolicySubject) -> (scope: String, requirements: [PolicyRequirement]) {
        if let scopes = transports[subject.transport] {
            for scope in [subject.identity] + subject.namespaces + [""] {
                if let found = scopes[scope] { return ("\(subject.transport):\(scope)", found) }
            }
        }
        return ("default", defaultRequirements)
    }

    /// Why `scope` can never match an image of `transport`, or nil when it can.
    static func invalidScope(_ scope: String, transport: String) -> String? {
        guard !scope.isEmpty else { return nil }
        switch transport {
        case "docker":
            if scope.hasPrefix("*.") {
                let domain = scope.dropFirst(2)
                return domain.isEmpty || domain.contains("/") || domain.contains(":") || domain.contains("*") ? "\"\(scope)\" is not a *.DOMAIN wildcard" : nil
            }
            if scope.contains("*") { return "\"\(scope)\": a wildcard may only start a scope, as *.DOMAIN" }
            return scope.hasPrefix("/") || scope.hasSuffix("/") || scope.contains("//") ? "\"\(scope)\" is no registry, repository or image" : nil
        case "docker-archive":
            return "docker-archive: has no scopes but the transport's default \"\""
        case "oci", "oci-archive", "dir":
            guard scope.hasPrefix("/") else { return "\"\(scope)\" must be an absolute path" }
            guard scope != "/" else { return "\"/\": use the transport's default scope \"\" instead" }
            let canonical = URL(fileURLWithPath: scope).standardizedFileURL.path
            return canonical != scope ? "\"\(scope)\" is not a canonical path (perhaps \(canonical))" : nil
        default:
            return nil
        }
    }

    static func requirements(_ value: Any?, at place: String, source: String) throws -> [PolicyRequirement] {
        guard let list = value as? [Any] else { throw TrustPolicyError.invalidPolicy(source: source, reason: "\(place) is not a list of requirements") }
        guard !list.isEmpty else { throw TrustPolicyError.invalidPolicy(source: source, reason: "\(place) is an empty list of requirements") }
        return try list.enumerated().map { index, item in try requirement(item, at: "\(place)[\(index)]", source: source) }
    }

    static func requirement(_ value: Any?, at place: String, source: String) throws -> PolicyRequirement {
        let type = (value as? [String: Any])?["type"] as? String
        switch type {
        case "insecureAcceptAnything": return try typeOnly(value, at: place, source: source, .insecureAcceptAnything)
        case "reject": return try typeOnly(value, at: place, source: source, .reject)
        case "signedBy":
            let object = try StrictJSONObject(
                value, at: place, source: source, allowed: ["type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"])
            let keyType = try object.requiredString("keyType")
            guard ["GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs"].contains(keyType) else {
                throw object.fail("unknown keyType \"\(keyType)\"")
            }
            let keys = try object.requiredKeySource(path: "keyPath", paths: "keyPaths", data: "keyData")
            return .signedBy(
                keyType: keyType, keys: keys,
                signedIdentity: try identity(object.fields["signedIdentity"], at: place + ".signedIdentity", source: source))
        case "signedBaseLayer":
            let object = try StrictJSONObject(value, at: place, source: source, allowed: ["type", "baseLayerIdentity"])
            guard object.has("baseLayerIdentity") else { throw object.fail("\"baseLayerIdentity\" is missing") }
            _ = try identity(object.fields["baseLayerIdentity"], at: place + ".baseLayerIdentity", source: source)
            return .signedBaseLayer
        case "sigstoreSigned":
            return try sigstoreSigned(value, at: place, source: source)
        default:
            throw TrustPolicyError.invalidPolicy(source: source, reason: "\(place) has an unknown requirement type \(type.map { "\"\($0)\"" } ?? "(none)")")
        }
    }

    static func sigstoreSigned(_ value: Any?, at place: String, source: String) throws -> PolicyRequirement {
        let object = try StrictJSONObject(
            value, at: place, source: source,
            allowed: [
                "type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyPaths",
                "rekorPublicKeyData", "rekorPublicKeyDatas", "signedIdentity",
            ])
        let roots = ["keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki"].filter(object.has)
        guard roots.count == 1 else { throw object.fail("exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki must be given") }
        let rekor = try object.keySource(
            path: "rekorPublicKeyPath", paths: "rekorPublicKeyPaths", data: "rekorPublicKeyData", datas: "rekorPublicKeyDatas")
        let signedIdentity = try identity(object.fields["signedIdentity"], at: place + ".signedIdentity", source: source)
        switch roots[0] {
        case "fulcio":
            let fulcio = try StrictJSONObject(
                object.fields["fulcio"], at: place + ".fulcio", source: source, allowed: ["caPath", "caData", "oidcIssuer", "subjectEmail"])
            let ca = try fulcio.requiredKeySource(path: "caPath", data: "caData")
            guard rekor != nil else { throw object.fail("keyless (fulcio) signatures need a Rekor public key (rekorPublicKeyPath, …)") }
            return .sigstoreSigned(
                .fulcio(
                    caSource: ca, oidcIssuer: try fulcio.requiredString("oidcIssuer"), subjectEmail: try fulcio.requiredString("subjectEmail"),
                    rekorPublicKeys: rekor),
                signedIdentity: signedIdentity)
        case "pki":
            guard rekor == nil else { throw object.fail("Rekor keys are not used with pki") }
            let pki = try StrictJSONObject(
                object.fields["pki"], at: place + ".pki", source: source,
                allowed: ["caRootsPath", "caRootsData", "caIntermediatesPath", "caIntermediatesData", "subjectEmail", "subjectHostname"])
            let roots = try pki.requiredKeySource(path: "caRootsPath", data: "caRootsData")
            let intermediates = try pki.keySource(path: "caIntermediatesPath", data: "caIntermediatesData")
            let email = try pki.string("subjectEmail"), hostname = try pki.string("subjectHostname")
            guard email != nil || hostname != nil else { throw pki.fail("one of subjectEmail and subjectHostname is required") }
            return .sigstoreSigned(
                .pki(roots: roots, intermediates: intermediates, subjectEmail: email, subjectHostname: hostname), signedIdentity: signedIdentity)
        default:
            let keys = try object.requiredKeySource(path: "keyPath", paths: "keyPaths", data: "keyData", datas: "keyDatas")
            return .sigstoreSigned(.keys(keys, rekorPublicKeys: rekor), signedIdentity: signedIdentity)
        }
    }

    /// `result`, for an object that may hold nothing but its `type`.
    static func typeOnly<T>(_ value: Any?, at place: String, source: String, _ result: T) throws -> T {
        _ = try StrictJSONObject(value, at: place, source: source, allowed: ["type"])
        return result
    }

    /// A `signedIdentity` object; absent, `matchRepoDigestOrExact`.
    static func identity(_ value: Any?, at place: String, source: String) throws -> SignedIdentity {
        guard let value else { return .matchRepoDigestOrExact }
        let type = (value as? [String: Any])?["type"] as? String
        switch type {
        case "matchExact": return try typeOnly(value, at: place, source: source, .matchExact)
        case "matchRepoDigestOrExact": return try typeOnly(value, at: place, source: source, .matchRepoDigestOrExact)
        case "matchRepository": return try typeOnly(value, at: place, source: source, .matchRepository)
        case "exactReference":
            let object = try StrictJSONObject(value, at: place, source: source, allowed: ["type", "dockerReference"])
            let reference = try object.requiredString("dockerReference")
            guard !SignedIdentity.isNameOnly(reference) else { throw object.fail("\"\(reference)\" names no tag or digest") }
            return .exactReference(reference)
        case "exactRepository":
            let object = try StrictJSONObject(value, at: place, source: source, allowed: ["type", "dockerRepository"])
            return .exactRepository(try object.requiredString("dockerRepository"))
        case "remapIdentity":
            let object = try StrictJSONObject(value, at: place, source: source, allowed: ["type", "prefix", "signedPrefix"])
            return .remapIdentity(prefix: try object.requiredString("prefix"), signedPrefix: try object.requiredString("signedPrefix"))
        default:
            throw TrustPolicyError.invalidPolicy(source: source, reason: "\(place) has an unknown identity rule \(type.map { "\"\($0)\"" } ?? "(none)")")
        }
    }
}
