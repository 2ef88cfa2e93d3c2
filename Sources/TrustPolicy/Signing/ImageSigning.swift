import BlockingWork
import Foundation
import OCILayout

/// How pushed images are signed (`oci copy --sign-by-sigstore-private-key`, `--sign-by`): with
/// a cosign private key (a sigstore signature, stored as a registry attachment), a GPG secret
/// key (a simple-signing signature, stored in the lookaside), or both, each naming the manifest
/// digest pushed and the image's name, as containers/image and skopeo sign.
public struct ImageSigning: Sendable {
    /// The secret key of the user's GnuPG keyring to sign with, and its passphrase.
    public struct GPGKey: Sendable {
        public var identity: String
        public var passphrase: String?

        public init(identity: String, passphrase: String?) {
            self.identity = identity
            self.passphrase = passphrase
        }
    }

    public var sigstoreKey: SigstorePrivateKey?
    public var gpgKey: GPGKey?
    /// The name signatures vouch for (`--sign-identity`); nil: the destination's name.
    public var identity: String?
    /// Who made the signatures, in their payloads' `optional.creator`.
    public var creator: String

    public init(sigstoreKey: SigstorePrivateKey? = nil, gpgKey: GPGKey? = nil, identity: String? = nil, creator: String) {
        self.sigstoreKey = sigstoreKey
        self.gpgKey = gpgKey
        self.identity = identity
        self.creator = creator
    }

    /// The payload vouching that `digest` is `identity`, of `type`.
    func payload(of digest: Digest, identity: String, type: String) -> Data {
        SignaturePayload(manifestDigest: digest, dockerReference: identity).serialized(
            type: type, creator: creator, timestamp: Int(Date().timeIntervalSince1970))
    }

    /// The signatures of the manifest `digest` under the name `identity`: one sigstore
    /// signature when there is a sigstore key, one simple-signing signature when there is a GPG
    /// key (made by gpg, on a thread of its own).
    public func signatures(of digest: Digest, identity: String) async throws -> (sigstore: [SigstoreSignature], simple: [Data]) {
        var sigstore: [SigstoreSignature] = []
        if let sigstoreKey {
            let payload = payload(of: digest, identity: identity, type: SignaturePayload.sigstoreType)
            let signature = try sigstoreKey.signature(of: payload)
            sigstore.append(SigstoreSignature(payload: payload, annotations: [SigstoreSignature.signatureAnnotation: signature.base64EncodedString()]))
        }
        var simple: [Data] = []
        if let gpgKey {
            let payload = payload(of: digest, identity: identity, type: SignaturePayload.simpleSigningType)
            simple.append(
                try await BlockingWork.run { try GPGSigner(identity: gpgKey.identity, passphrase: gpgKey.passphrase).sign(payload) })
        }
        return (sigstore, simple)
    }
}

extension ImageSigning {
    /// The largest passphrase file read.
    static let passphraseFileLimit = 64 << 10

    /// The passphrase in the file at `path` (`--sign-passphrase-file`): its first line, as
    /// skopeo reads it.
    public static func passphrase(fromFile path: String) throws -> String {
        guard let data = try RegularFileOpening.contents(of: path, limit: passphraseFileLimit) else {
            throw TrustPolicyError.invalidSigningKey(source: path, reason: "the passphrase file does not exist")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TrustPolicyError.invalidSigningKey(source: path, reason: "the passphrase file is not UTF-8 text")
        }
        return String(text.prefix { $0 != "\n" && $0 != "\r\n" })
    }
}
