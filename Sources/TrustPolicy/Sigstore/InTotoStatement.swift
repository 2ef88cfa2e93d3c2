import Foundation
import OCILayout

/// The in-toto statement a Sigstore bundle signs, read only after a trusted key has verified
/// it: the subjects it is about (each a digest, perhaps a name) and its predicate type. cosign 3
/// signs an image as a statement of predicate type ``signaturePredicateType`` whose one subject
/// is the manifest digest and which names no image; other predicate types are attestations
/// (provenance, SBOMs), not signatures.
public struct InTotoStatement: Sendable, Equatable {
    /// The predicate type of `cosign sign` in the bundle format.
    public static let signaturePredicateType = "https://sigstore.dev/cosign/sign/v1"
    static let statementTypes: Set = ["https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"]

    public struct Subject: Sendable, Equatable {
        /// The subject's name, if the signer gave one.
        public var name: String?
        /// Its sha256 digest.
        public var digest: Digest
    }

    public var subjects: [Subject]
    public var predicateType: String

    /// The statement in `data`, or why it is none.
    public init(parsing data: Data) throws(SignatureFault) {
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw .malformed("the statement is not a JSON object") }
        guard let type = top["_type"] as? String, Self.statementTypes.contains(type) else { throw .malformed("the payload is no in-toto statement") }
        guard let predicateType = top["predicateType"] as? String else { throw .malformed("the statement has no predicateType") }
        guard let subjects = top["subject"] as? [[String: Any]], !subjects.isEmpty else { throw .malformed("the statement has no subject") }
        var parsed: [Subject] = []
        for subject in subjects {
            guard let digests = subject["digest"] as? [String: Any], let hex = digests["sha256"] as? String,
                let digest = try? Digest(parsing: "sha256:\(hex)")
            else {
                throw .malformed("a subject of the statement has no sha256 digest")
            }
            let name = subject["name"] as? String
            parsed.append(Subject(name: name?.isEmpty == false ? name : nil, digest: digest))
        }
        self.subjects = parsed
        self.predicateType = predicateType
    }
}
