import Foundation
import OCILayout

/// A Sigstore bundle attached to an image as an OCI referrer, as a source handed it over,
/// untrusted: the referrers index's entry for it, the referrer manifest (its bytes as they
/// are, so that a copy keeps its digest), that manifest's config and its one layer, the
/// bundle, each with the descriptor it was fetched and verified by.
public struct AttachedBundle: Sendable {
    public var entry: Descriptor
    public var manifest: ManifestDocument
    public var config: (descriptor: Descriptor, bytes: Data)
    public var bundle: (descriptor: Descriptor, bytes: Data)

    public init(entry: Descriptor, manifest: ManifestDocument, config: (Descriptor, Data), bundle: (Descriptor, Data)) {
        self.entry = entry
        self.manifest = manifest
        self.config = config
        self.bundle = bundle
    }

    /// The empty JSON object `{}`: the config of every bundle referrer cosign writes
    /// (`application/vnd.oci.empty.v1+json`), known without being fetched.
    public static let emptyConfig = Data("{}".utf8)
}
