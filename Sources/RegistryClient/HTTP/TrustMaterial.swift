import Foundation

/// The CAs and client certificate of a certificate directory (containers-certs.d(5)), read
/// once from disk.
///
/// Extra CAs are added to the system's, not put in their place, as the containers tools do:
/// libcurl takes one CA bundle, so the system bundle and the extra files are joined in memory.
struct TrustMaterial: Sendable {
    var caBundle: [UInt8]?
    var clientCertificate: Certificate?

    struct Certificate: Sendable {
        let certificate: String
        let key: String
    }

    static let systemBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]

    /// The material of `directory` (none when nil).
    init(directory: String?) throws {
        var extraFiles: [String] = []
        if let directory {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            } catch {
                throw RegistryError.credentials(source: directory, reason: "cannot read the certificate directory")
            }
            extraFiles += names.filter { $0.hasSuffix(".crt") }.map { "\(directory)/\($0)" }
            if let cert = names.first(where: { $0.hasSuffix(".cert") }) {
                let key = String(cert.dropLast(".cert".count)) + ".key"
                guard names.contains(key) else {
                    throw RegistryError.credentials(source: "\(directory)/\(cert)", reason: "client certificate without its \(key)")
                }
                clientCertificate = Certificate(certificate: "\(directory)/\(cert)", key: "\(directory)/\(key)")
            }
        }
        guard !extraFiles.isEmpty else { return }
        var bundle: [UInt8] = []
        if let system = Self.systemBundles.lazy.compactMap({ FileManager.default.contents(atPath: $0) }).first {
            bundle += system
            bundle.append(0x0A)
        }
        for file in extraFiles {
            guard let pem = FileManager.default.contents(atPath: file) else {
                throw RegistryError.credentials(source: file, reason: "cannot read this CA certificate")
            }
            bundle += pem
            bundle.append(0x0A)
        }
        caBundle = bundle
    }
}
