import Foundation
import OCILayout

/// What a signature's payload claims, read as containers/image reads it: exactly `critical` and
/// `optional`; in `critical` exactly `type`, `image.docker-manifest-digest` and
/// `identity.docker-reference`. The type is "cosign container image signature" for sigstore
/// signatures and "atomic container signature" for simple signing (GPG). Anything else is no
/// payload of an image signature. Read only after a trusted key has verified the bytes.
public struct SignaturePayload: Sendable, Equatable {
    public static let sigstoreType = "cosign container image signature"
    public static let simpleSigningType = "atomic container signature"

    /// The digest of the manifest the signature vouches for.
    public var manifestDigest: Digest
    /// The image name the signer gave it.
    public var dockerReference: String

    public init(manifestDigest: Digest, dockerReference: String) {
        self.manifestDigest = manifestDigest
        self.dockerReference = dockerReference
    }

    /// The payload of type `type` in `data`, or why it is none.
    public init(parsing data: Data, type: String) throws(SignatureFault) {
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw .malformed("the payload is not a JSON object") }
        guard Set(top.keys) == ["critical", "optional"] else { throw .malformed("the payload has fields \(top.keys.sorted()), not critical and optional") }
        guard top["optional"] is NSNull || top["optional"] is [String: Any] else { throw .malformed("the payload's optional is not an object") }
        guard let critical = top["critical"] as? [String: Any], Set(critical.keys) == ["type", "image", "identity"] else {
            throw .malformed("the payload's critical is not an object of type, image and identity")
        }
        guard critical["type"] as? String == type else { throw .malformed("the payload is not of type \"\(type)\"") }
        guard let image = critical["image"] as? [String: Any], image.count == 1, let digestText = image["docker-manifest-digest"] as? String,
            let digest = try? Digest(parsing: digestText)
        else {
            throw .malformed("the payload's critical.image holds no docker-manifest-digest mbctl can check")
        }
        guard let identity = critical["identity"] as? [String: Any], identity.count == 1, let reference = identity["docker-reference"] as? String else {
            throw .malformed("the payload's critical.identity holds no docker-reference")
        }
        self.init(manifestDigest: digest, dockerReference: reference)
    }

    /// The payload of type `type` containers/image and cosign sign: `critical` as above,
    /// `optional` with who made it and when.
    public func serialized(type: String, creator: String, timestamp: Int) -> Data {
        let object: [String: Any] = [
            "critical": [
                "identity": ["docker-reference": dockerReference],
                "image": ["docker-manifest-digest": manifestDigest.description],
                "type": type,
            ],
            "optional": ["creator": creator, "timestamp": timestamp],
        ]
        // Serializing dictionaries of strings and integers cannot fail.
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }
}
