import Foundation
import OCILayout

/// A sigstore signature as it arrives, untrusted until a key verifies it: the payload (the JSON
/// that was signed) and the annotations of its layer in the attachment, the base64 signature
/// among them (cosign's `.sig` attachment format, as containers/image reads and writes it).
public struct SigstoreSignature: Sendable, Equatable {
    /// The layer media type of a signature in a `.sig` attachment.
    public static let mediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
    /// The annotation holding the base64 signature of the payload.
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"
    /// Annotations of keyless signatures: a Fulcio certificate and its chain (PEM), and the Rekor
    /// signed entry timestamp (which key-based signatures may carry too).
    public static let certificateAnnotation = "dev.sigstore.cosign/certificate"
    public static let chainAnnotation = "dev.sigstore.cosign/chain"
    public static let bundleAnnotation = "dev.sigstore.cosign/bundle"

    public var payload: Data
    public var annotations: [String: String]

    public init(payload: Data, annotations: [String: String]) {
        self.payload = payload
        self.annotations = annotations
    }

    /// The attachment tag of the image whose manifest is `digest`: `sha256-HEX.sig`.
    public static func attachmentTag(for digest: Digest) -> String {
        "\(digest.algorithm)-\(digest.encoded).sig"
    }
}
