import Foundation
import OCILayout
import Synchronization

/// A signature source that fetches each answer once: the signature policy reads an image's
/// signatures to decide, and a copy that takes them along reads the same ones again. The inner
/// source is made on first use (a registry source knows only once the manifest has come which
/// endpoint serves the image).
public final class RememberedSignatures: SignatureSource {
    private let make: @Sendable () -> SignatureSource
    private struct State {
        var inner: SignatureSource?
        var sigstore: [Digest: [SigstoreSignature]] = [:]
        var bundles: [Digest: [AttachedBundle]] = [:]
        var simple: [Digest: [Data]] = [:]
    }
    private let state = Mutex(State())

    public init(_ make: @escaping @Sendable () -> SignatureSource) {
        self.make = make
    }

    private var inner: SignatureSource {
        state.withLock { state in
            if let inner = state.inner { return inner }
            let made = make()
            state.inner = made
            return made
        }
    }

    public func sigstoreSignatures(of digest: Digest) async throws -> [SigstoreSignature] {
        if let known = state.withLock({ $0.sigstore[digest] }) { return known }
        let fetched = try await inner.sigstoreSignatures(of: digest)
        state.withLock { $0.sigstore[digest] = fetched }
        return fetched
    }

    public func sigstoreBundles(of digest: Digest) async throws -> [AttachedBundle] {
        if let known = state.withLock({ $0.bundles[digest] }) { return known }
        let fetched = try await inner.sigstoreBundles(of: digest)
        state.withLock { $0.bundles[digest] = fetched }
        return fetched
    }

    public func simpleSignatures(of digest: Digest) async throws -> [Data] {
        if let known = state.withLock({ $0.simple[digest] }) { return known }
        let fetched = try await inner.simpleSignatures(of: digest)
        state.withLock { $0.simple[digest] = fetched }
        return fetched
    }
}
