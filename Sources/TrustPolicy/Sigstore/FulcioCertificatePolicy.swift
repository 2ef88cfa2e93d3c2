import SwiftASN1
import X509

/// What a Fulcio certificate chain must be beyond RFC 5280, as containers/image asks Go's
/// verifier: a leaf for code signing. Its subject alternative names, which Fulcio marks
/// critical when the subject is empty, are checked by ``FulcioTrust`` after the chain is built.
struct FulcioCertificatePolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName, .X509ExtensionID.extendedKeyUsage]

    mutating func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        // An extended key usage on a CA limits what it certifies; on the leaf it must allow
        // code signing.
        for certificate in chain {
            guard let usages = try? certificate.extensions.extendedKeyUsage else {
                if certificate == chain.leaf { return .failsToMeetPolicy(reason: "the certificate is not for code signing") }
                continue
            }
            if !usages.contains(.codeSigning) && !usages.contains(.any) {
                return .failsToMeetPolicy(reason: "a certificate of the chain is not for code signing")
            }
        }
        return .meetsPolicy
    }
}
