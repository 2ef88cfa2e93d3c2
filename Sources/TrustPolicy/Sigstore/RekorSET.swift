import Crypto
import Foundation

/// A Rekor signed entry timestamp (SET), as cosign attaches it to a signature (the
/// `dev.sigstore.cosign/bundle` annotation): the log's signature over its entry for the
/// signature, checked offline, as containers/image checks it.
///
/// Everything in it is untrusted until the log's key has verified the entry: the SET signs the
/// JSON canonical form (RFC 8785) of `Payload` (`body`, `integratedTime`, `logIndex`, `logID`);
/// `body` is a `hashedrekord` 0.0.1 entry that must name exactly the signature, the key or
/// certificate and the payload hash of the signature it is attached to. The entry's time is
/// when the log saw the signature: the time a keyless certificate must have been valid at.
enum RekorSET {
    /// The time the log integrated the entry for `signature` (base64, as in the signature
    /// annotation) of `payload`, made by the key or certificate whose DER is `signer`, when
    /// `bundle` is such an entry signed by one of `logKeys`; otherwise why not.
    static func verify(_ bundle: String?, logKeys: [SigstorePublicKey], signer: Data, signature: String, payload: Data) -> Result<Date, SignatureFault> {
        guard let bundle else { return .failure(.unlogged("it has no \(SigstoreSignature.bundleAnnotation) annotation")) }
        guard let set = try? JSONSerialization.jsonObject(with: Data(bundle.utf8)) as? [String: Any], Set(set.keys) == ["SignedEntryTimestamp", "Payload"],
            let setSignature = (set["SignedEntryTimestamp"] as? String).flatMap({ Data(base64Encoded: $0) }),
            let payloadObject = set["Payload"] as? [String: Any], Set(payloadObject.keys) == ["body", "integratedTime", "logIndex", "logID"],
            let entryData = try? JSONSerialization.data(withJSONObject: payloadObject),
            let entry = try? JSONDecoder().decode(LogEntry.self, from: entryData)
        else {
            return .failure(.unlogged("its Rekor bundle is not a signed entry timestamp"))
        }
        guard logKeys.contains(where: { $0.isValidSignature(setSignature, of: entry.canonicalJSON) }) else {
            return .failure(.unlogged("its Rekor entry is not signed by the policy's Rekor key"))
        }
        guard let bodyData = Data(base64Encoded: entry.body), let body = try? JSONDecoder().decode(HashedRekord.self, from: bodyData),
            body.kind == "hashedrekord", body.apiVersion == "0.0.1"
        else {
            return .failure(.unlogged("its Rekor entry is not a hashedrekord 0.0.1 entry"))
        }
        guard let loggedSignerPEM = Data(base64Encoded: body.spec.signature.publicKey.content).flatMap({ String(data: $0, encoding: .utf8) }),
            let loggedSigner = SigstorePrivateKey.pemBlock(in: loggedSignerPEM)?.body, loggedSigner == signer
        else {
            return .failure(.unlogged("its Rekor entry is for another key or certificate"))
        }
        guard let loggedSignature = Data(base64Encoded: body.spec.signature.content), loggedSignature == Data(base64Encoded: signature) else {
            return .failure(.unlogged("its Rekor entry is for another signature"))
        }
        let hash = SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
        guard body.spec.data.hash.algorithm == "sha256", body.spec.data.hash.value.lowercased() == hash else {
            return .failure(.unlogged("its Rekor entry is for another payload"))
        }
        return .success(Date(timeIntervalSince1970: TimeInterval(entry.integratedTime)))
    }

    /// The SET's `Payload`.
    struct LogEntry: Decodable {
        var body: String
        var integratedTime: Int64
        var logIndex: Int64
        var logID: String

        /// The RFC 8785 form the SET signs: members sorted by name, no white space, integers
        /// as they are, strings with only `"`, `\` and control characters escaped.
        var canonicalJSON: Data {
            func string(_ text: String) -> String {
                var escaped = "\""
                for scalar in text.unicodeScalars {
                    switch scalar {
                    case "\"": escaped += "\\\""
                    case "\\": escaped += "\\\\"
                    case "\u{08}": escaped += "\\b"
                    case "\u{0C}": escaped += "\\f"
                    case "\n": escaped += "\\n"
                    case "\r": escaped += "\\r"
                    case "\t": escaped += "\\t"
                    case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
                    default: escaped.unicodeScalars.append(scalar)
                    }
                }
                return escaped + "\""
            }
            return Data(
                "{\"body\":\(string(body)),\"integratedTime\":\(integratedTime),\"logID\":\(string(logID)),\"logIndex\":\(logIndex)}".utf8)
        }
    }

    /// A `hashedrekord` entry: the signature, the key or certificate that made it (PEM, base64),
    /// and the hash of what it signs.
    struct HashedRekord: Decodable {
        struct Spec: Decodable {
            struct Signature: Decodable {
                struct PublicKey: Decodable { var content: String }
                var content: String
                var publicKey: PublicKey
            }
            struct Data: Decodable {
                struct Hash: Decodable {
                    var algorithm: String
                    var value: String
                }
                var hash: Hash
            }
            var signature: Signature
            var data: Data
        }
        var apiVersion: String
        var kind: String
        var spec: Spec
    }
}
