import Foundation
import OCILayout
import RegistryClient
import Testing
import TestSupport
import TrustPolicy

/// cosign private keys (sealed as cosign seals them: scrypt and a NaCl secretbox over PKCS #8,
/// made by PyNaCl with `sigstore-sign.py cosign-key`, passphrase "pass phrase") open, sign what
/// their public keys verify, and refuse a wrong passphrase or a costly, foreign or broken file.
struct SigstoreSigningTests {
    static let keys = ContainersPolicyTests.fixtures.appendingPathComponent("cosign-keys")
    static let digest = Digest.sha256(of: Data("manifest".utf8))

    static func key(_ name: String, passphrase: String = "pass phrase") throws -> SigstorePrivateKey {
        let file = try Data(contentsOf: keys.appendingPathComponent("\(name).key"))
        return try SigstorePrivateKey(file: file, passphrase: Data(passphrase.utf8), source: "\(name).key")
    }

    static func publicKey(_ name: String) throws -> SigstorePublicKey {
        try #require(SigstorePublicKey(pem: try String(contentsOf: keys.appendingPathComponent("\(name).pub"), encoding: .utf8)))
    }

    @Test(arguments: ["p256", "p384", "ed25519", "rsa"])
    func aSealedKeySignsWhatItsPublicKeyVerifies(kind: String) throws {
        let key = try Self.key(kind)
        #expect(key.publicKey.fingerprint == (try Self.publicKey(kind)).fingerprint)
        let payload = Data("payload".utf8)
        let signature = try key.signature(of: payload)
        #expect(try Self.publicKey(kind).isValidSignature(signature, of: payload))
        #expect(try !Self.publicKey(kind).isValidSignature(signature, of: Data("other".utf8)))
        let other = kind == "p256" ? "ed25519" : "p256"
        #expect(try !Self.publicKey(other).isValidSignature(signature, of: payload))
    }

    @Test func aWrongPassphraseOpensNothing() {
        #expect(
            refusal { _ = try Self.key("p256", passphrase: "pass phrasE") } == "the signing key p256.key cannot be used: the passphrase does not open it")
        #expect(refusal { _ = try Self.key("p256", passphrase: "") }.hasSuffix("the passphrase does not open it"))
    }

    /// The key file with its sealed envelope changed by `change`.
    static func edited(_ change: (inout [String: Any]) -> Void, type: String = "ENCRYPTED SIGSTORE PRIVATE KEY") throws -> Data {
        let lines = try String(contentsOf: keys.appendingPathComponent("p256.key"), encoding: .utf8).split(separator: "\n")
        let body = try #require(Data(base64Encoded: lines.dropFirst().dropLast().joined()))
        var envelope = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        change(&envelope)
        let sealed = try JSONSerialization.data(withJSONObject: envelope).base64EncodedString()
        return Data("-----BEGIN \(type)-----\n\(sealed)\n-----END \(type)-----\n".utf8)
    }

    @Test func costlyForeignAndBrokenKeyFilesAreRefusedBeforeScryptRuns() throws {
        func open(_ file: Data) -> String {
            refusal { _ = try SigstorePrivateKey(file: file, passphrase: Data("pass phrase".utf8), source: "k") }
        }
        // 16 GiB of scrypt memory, asked by a file: refused, not attempted.
        #expect(
            open(try Self.edited { $0["kdf"] = ["name": "scrypt", "params": ["N": 1 << 24, "r": 8, "p": 1], "salt": "AAAA"] }).contains(
                "are not ones cosign uses"))
        #expect(open(try Self.edited { $0["kdf"] = ["name": "argon2", "params": [:], "salt": "AAAA"] }).contains("does not name an scrypt key derivation"))
        #expect(open(try Self.edited { $0["cipher"] = ["name": "aes-gcm", "nonce": "AAAA"] }).contains("does not name a nacl/secretbox cipher"))
        #expect(open(try Self.edited { $0["ciphertext"] = "AAAA" }).contains("no sealed key"))
        #expect(open(try Self.edited { $0["ciphertext"] = "not base64!" }).contains("ciphertext is not base64"))
        #expect(open(try Self.edited { $0["cipher"] = ["name": "nacl/secretbox", "nonce": "AAAA"] }).contains("nonce is not 24 bytes"))
        #expect(open(try Self.edited({ _ in }, type: "PRIVATE KEY")).contains("not an encrypted cosign private key"))
        #expect(open(try Self.edited({ _ in }, type: "ENCRYPTED COSIGN PRIVATE KEY")) == "accepted")
        #expect(open(Data("no PEM at all".utf8)).contains("holds no PEM block"))
        #expect(open(Data([0xff, 0xfe, 0x00])).contains("holds no PEM block"))
    }

    @Test func signaturesNameTheDigestAndIdentityTheyVouchFor() async throws {
        let signing = ImageSigning(sigstoreKey: try Self.key("ed25519"), creator: "mbctl tests")
        let made = try await signing.signatures(of: Self.digest, identity: "registry.site/apps/app:v1")
        #expect(made.simple.isEmpty)
        let signature = try #require(made.sigstore.first)
        let payload = try SignaturePayload(parsing: signature.payload, type: SignaturePayload.sigstoreType)
        #expect(payload == SignaturePayload(manifestDigest: Self.digest, dockerReference: "registry.site/apps/app:v1"))
        let encoded = try #require(signature.annotations[SigstoreSignature.signatureAnnotation])
        #expect(try Self.publicKey("ed25519").isValidSignature(try #require(Data(base64Encoded: encoded)), of: signature.payload))
    }

    @Test func lookasideSignaturesAreAddedAfterTheOnesThereEachOnce() throws {
        let directory = NSTemporaryDirectory() + "mbctl-lookaside-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var storage = SignatureStorage()
        storage.defaultDocker = SignatureStorage.Scope(lookaside: "https://signatures.invalid", lookasideStaging: "file://\(directory)")
        let reference = try ImageReference(parsing: "registry.site/apps/app:v1")
        let destination = SignatureDestination(
            client: try RegistryClient(configuration: .init()), reference: reference, trust: ImageTrust(verifier: nil, storage: storage))
        let first = Data("first".utf8), second = Data("second".utf8)
        #expect(try destination.add(simple: [first], of: Self.digest) == 1)
        #expect(try destination.add(simple: [first, second], of: Self.digest) == 1)
        let place = "\(directory)/apps/app@sha256=\(Self.digest.encoded)"
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(place)/signature-1")) == first)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(place)/signature-2")) == second)
        #expect(try FileManager.default.contentsOfDirectory(atPath: place).sorted() == ["signature-1", "signature-2"])
        // Only file:// can be written.
        storage.defaultDocker = SignatureStorage.Scope(lookaside: "https://signatures.invalid")
        let remote = SignatureDestination(
            client: try RegistryClient(configuration: .init()), reference: reference, trust: ImageTrust(verifier: nil, storage: storage))
        #expect(refusal { _ = try remote.add(simple: [first], of: Self.digest) }.contains("only to a file:// lookaside"))
    }
}
