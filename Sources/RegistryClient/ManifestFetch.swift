import Foundation
import OCILayout

extension RegistryClient {
    static let manifestAccept = [
        MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
    ].joined(separator: ", ")

    /// Fetches the manifest `reference` names, or, with `digest`, that manifest of its repository.
    ///
    /// The bytes are verified against the digest asked for, or against the registry's own
    /// `Docker-Content-Digest` when pulling by tag. Schema 1 manifests are refused by name.
    public func fetchManifest(
        _ reference: ImageReference, digest: Digest? = nil, asMirror: Bool = false, insecure: Bool = false,
        retrying: Bool = true, progress: TransferEventHandler? = nil
    ) async throws -> ManifestDocument {
        let session = try await session(for: reference, asMirror: asMirror, insecure: insecure)
        let target = digest?.description ?? reference.manifestReference
        let path = "/\(reference.repository)/manifests/\(target)"
        let response = try await withRetries(url: "\(reference.registry)/v2\(path)", progress: progress, retrying: retrying) {
            let response = try await session.send(
                path: path, scope: Self.pullScope(reference), headers: [("Accept", Self.manifestAccept)],
                bufferLimit: DocumentLimits.manifest)
            try Self.check(response, what: "manifest \(reference.repository):\(target)")
            return response
        }
        let data = Data(response.body)
        let actual = Digest.sha256(of: data)
        let expected = digest ?? reference.digest ?? response.headers["Docker-Content-Digest"].flatMap { try? Digest(parsing: $0) }
        if let expected, expected != actual {
            throw RegistryError.digestMismatch(what: "manifest of \(reference)", expected: expected.description, actual: actual.description)
        }
        do {
            let mediaType = try MediaType.ofManifest(data, declared: response.headers["Content-Type"], image: reference.description)
            return ManifestDocument(data: data, mediaType: mediaType, digest: actual)
        } catch let error as OCILayoutError {
            throw RegistryError.content(error)
        }
    }

    /// Turns a non-2xx response into the error that says what it means.
    static func check(_ response: HTTPResponse, what: String) throws {
        switch response.status {
        case 200..<300:
            return
        case 404:
            throw RegistryError.notFound(what: what, url: response.head.url)
        case 429, 503:
            throw RegistryError.throttled(
                url: response.head.url, status: response.status,
                retryAfter: RetryPolicy.parseRetryAfter(response.headers["Retry-After"]),
                detail: RegistryErrorBody.detail(response.body))
        default:
            throw RegistryError.httpStatus(url: response.head.url, status: response.status, detail: RegistryErrorBody.detail(response.body))
        }
    }
}
