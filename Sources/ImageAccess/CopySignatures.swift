import TrustPolicy

/// What `oci copy` does with signatures when it pushes to a registry: the source's signatures
/// of the manifest pushed go along (sigstore attachments, lookaside signatures) unless
/// `removeExisting` (`--remove-signatures`), and `signing` adds new ones. A layout or archive
/// holds no signatures: none are copied into one, and signing one is refused.
public struct CopySignatures: Sendable {
    public var removeExisting: Bool
    public var signing: ImageSigning?

    public init(removeExisting: Bool = false, signing: ImageSigning? = nil) {
        self.removeExisting = removeExisting
        self.signing = signing
    }
}
