import Foundation

/// One sigstore signature of an image as a source hands it over, in either of cosign's
/// formats: a layer of the `.sig` attachment, or a Sigstore bundle attached as an OCI referrer.
enum SigstoreCandidate: Sendable {
    case attached(SigstoreSignature)
    case bundle(Data)
}
