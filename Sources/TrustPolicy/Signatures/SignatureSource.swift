import Foundation
import OCILayout

/// Where an image's signatures are fetched from: a registry's sigstore attachments, a
/// lookaside store. Everything a source returns is untrusted; ``ImageVerifier`` decides.
public protocol SignatureSource: Sendable {
    /// The sigstore signatures attached to the manifest `digest` (none: an empty list).
    func sigstoreSignatures(of digest: Digest) async throws -> [SigstoreSignature]
    /// The Sigstore bundles attached to the manifest `digest` as OCI referrers (none: an empty
    /// list).
    func sigstoreBundles(of digest: Digest) async throws -> [AttachedBundle]
    /// The simple-signing (OpenPGP) signatures of the manifest `digest`, each as its bytes.
    func simpleSignatures(of digest: Digest) async throws -> [Data]
}

/// An image with nowhere to hold signatures: a layout or an archive read in place.
public struct NoSignatures: SignatureSource {
    public init() {}
    public func sigstoreSignatures(of digest: Digest) async throws -> [SigstoreSignature] { [] }
    public func sigstoreBundles(of digest: Digest) async throws -> [AttachedBundle] { [] }
    public func simpleSignatures(of digest: Digest) async throws -> [Data] { [] }
}
