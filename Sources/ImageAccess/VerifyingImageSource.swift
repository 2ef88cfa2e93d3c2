import OCILayout
import RegistryClient
import Synchronization
import TrustPolicy

/// An image source whose root manifest is let through only as the signature policy allows: the
/// policy decides as soon as the manifest (or index) arrives, before its config, a platform's
/// manifest or any layer is asked for, since everything else is fetched after it and checked
/// against the digests it holds.
final class VerifyingImageSource: ImageSource, Sendable {
    let inner: ImageSource
    let verifier: ImageVerifier?
    let subject: PolicySubject
    /// The image as refusals and records name it (`docker://HOST/REPO:TAG`).
    let name: String
    /// Where its signatures are, once the manifest has come (a registry source knows then
    /// which endpoint serves the image).
    let signatures: @Sendable () -> SignatureSource
    private let outcome = Mutex<ImageVerification?>(nil)

    init(_ inner: ImageSource, verifier: ImageVerifier?, subject: PolicySubject, name: String, signatures: @escaping @Sendable () -> SignatureSource) {
        self.inner = inner
        self.verifier = verifier
        self.subject = subject
        self.name = name
        self.signatures = signatures
    }

    /// How the image was let in; nil until its root manifest has been.
    var verification: ImageVerification? { outcome.withLock { $0 } }

    var displayName: String { inner.displayName }

    func rootManifest(progress: TransferEventHandler?) async throws -> ManifestDocument {
        let document = try await inner.rootManifest(progress: progress)
        let decided = try await verifier?.verify(subject, image: name, manifest: document, signatures: signatures()) ?? .notVerified
        outcome.withLock { $0 = decided }
        return document
    }

    func manifest(_ descriptor: Descriptor, progress: TransferEventHandler?) async throws -> ManifestDocument {
        guard verification != nil else { throw ImageAccessError.invalidImage(reason: "\(name): a manifest was asked for before the image was verified") }
        return try await inner.manifest(descriptor, progress: progress)
    }

    func fetchBlob(_ descriptor: Descriptor, into store: ContentStore, progress: TransferEventHandler?) async throws {
        guard verification != nil else { throw ImageAccessError.invalidImage(reason: "\(name): a blob was asked for before the image was verified") }
        try await inner.fetchBlob(descriptor, into: store, progress: progress)
    }
}
