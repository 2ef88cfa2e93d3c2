import BlockingWork
import Foundation
import OCILayout
import RegistryClient
import TrustPolicy

extension ImageAccess {
    /// The signatures a push stores with the image it pushed: gathered (and made) before the
    /// push, stored after it.
    struct PendingSignatures: Sendable {
        var sigstore: [SigstoreSignature] = []
        /// Sigstore bundles (cosign 3), attached as OCI referrers.
        var bundles: [AttachedBundle] = []
        var simple: [Data] = []
        /// How many came from the source, and how many were made.
        var copied = 0
        var made = 0
    }

    /// The signatures to store with `root` at `destination`: the source's (unless removed) and
    /// new ones (when signing). Checked storable there before anything is pushed: a copy that
    /// could not keep them stops here, with nothing pushed.
    func pendingSignatures(
        of root: Digest, from opened: Opened, handling: CopySignatures, destination: SignatureDestination
    ) async throws -> PendingSignatures {
        var pending = PendingSignatures()
        if !handling.removeExisting {
            pending.sigstore = try await opened.signatures.sigstoreSignatures(of: root)
            pending.bundles = try await opened.signatures.sigstoreBundles(of: root)
            pending.simple = try await opened.signatures.simpleSignatures(of: root)
            pending.copied = pending.sigstore.count + pending.bundles.count + pending.simple.count
        }
        if let signing = handling.signing {
            let made = try await signing.signatures(of: root, identity: signing.identity ?? destination.identity)
            pending.sigstore += made.sigstore
            pending.simple += made.simple
            pending.made = made.sigstore.count + made.simple.count
        }
        try destination.checkStorable(sigstore: !pending.sigstore.isEmpty || !pending.bundles.isEmpty, simple: !pending.simple.isEmpty)
        return pending
    }

    /// Stores `pending` with the manifest `root` at `destination`.
    func store(_ pending: PendingSignatures, of root: Digest, at destination: SignatureDestination) async throws {
        _ = try await destination.add(sigstore: pending.sigstore, of: root)
        _ = try await destination.add(bundles: pending.bundles, of: root)
        let simple = pending.simple
        _ = try await BlockingWork.run { try destination.add(simple: simple, of: root) }
    }
}
