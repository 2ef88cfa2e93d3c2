import Foundation
import OCILayout

extension RegistryClient {
    /// The document at `url` of a lookaside signature store (containers-registries.d(5)): over
    /// http or https, without credentials, or from a `file://` path; nil when there is none
    /// (404, or no such file). At most `limit` bytes are read; a redirect is followed only to
    /// http or https, and to plain http only from plain http.
    public func fetchLookaside(_ url: String, limit: Int64) async throws -> Data? {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased() else {
            throw RegistryError.invalidResponse(url: url, reason: "it is not a URL")
        }
        if scheme == "file" {
            return try RegularFileOpening.contents(of: parsed.path, limit: Int(limit))
        }
        guard scheme == "http" || scheme == "https" else { throw RegistryError.redirectRefused(url: url, reason: "\(scheme):// is no lookaside store") }
        var current = url
        for _ in 0..<10 {
            let response = try await withRetries(url: current, progress: nil) {
                try await self.transport.perform(HTTPRequest(url: current), sink: nil, bufferLimit: limit)
            }
            switch response.status {
            case 200..<300:
                return Data(response.body)
            case 404:
                return nil
            case 301, 302, 303, 307, 308:
                current = try RegistrySession.redirectTarget(location: response.headers["Location"], of: current, allowsPlainHTTP: false)
            default:
                try Self.check(response, what: "signature \(url)")
            }
        }
        throw RegistryError.redirectRefused(url: url, reason: "more than 10 redirects")
    }
}
