import Foundation
import OCILayout

extension RegistryClient {
    /// The referrers of manifest `digest` in `reference`'s repository, through the OCI 1.1
    /// referrers API (`GET /v2/REPO/referrers/DIGEST`): an image index listing the manifests whose
    /// `subject` is that manifest. Nil when the registry does not offer the API (it answers 404),
    /// so the caller falls back to the referrers tag (`sha256-HEX`), as the distribution spec
    /// says. The answer is read with the manifest size limit; it has no digest to verify (the
    /// registry makes it up), so everything in it is checked where it is used.
    public func fetchReferrers(of digest: Digest, in reference: ImageReference, asMirror: Bool = false, insecure: Bool = false) async throws
        -> ImageIndex?
    {
        let session = try await session(for: reference, asMirror: asMirror, insecure: insecure)
        let path = "/\(reference.repository)/referrers/\(digest)"
        let response: HTTPResponse
        do {
            response = try await withRetries(url: "\(reference.registry)/v2\(path)", progress: nil, retrying: true) {
                let response = try await session.send(
                    path: path, scope: Self.pullScope(reference), headers: [("Accept", MediaType.ociIndex)], bufferLimit: DocumentLimits.manifest)
                try Self.check(response, what: "referrers of \(reference.repository)@\(digest)")
                return response
            }
        } catch RegistryError.notFound {
            return nil
        }
        do {
            return try JSONDecoder.decodeDocument(ImageIndex.self, from: Data(response.body), what: "referrers of \(reference.repository)@\(digest)")
        } catch let error as OCILayoutError {
            throw RegistryError.content(error)
        }
    }

    /// The referrers index tagged `sha256-HEX` in `reference`'s repository: the referrers of
    /// manifest `digest` where the registry has no referrers API, as cosign and oras write them
    /// (the distribution spec's referrers tag schema). Nil when there is none; anything but an
    /// image index there is an error.
    public func fetchReferrersTag(of digest: Digest, in reference: ImageReference, asMirror: Bool = false, insecure: Bool = false) async throws
        -> ImageIndex?
    {
        let tag = try Self.referrersTag(of: digest, in: reference)
        let document: ManifestDocument
        do {
            document = try await fetchManifest(tag, asMirror: asMirror, insecure: insecure)
        } catch RegistryError.notFound {
            return nil
        }
        guard document.isIndex, let index = try? JSONDecoder().decode(ImageIndex.self, from: document.data) else {
            throw RegistryError.invalidResponse(url: "\(tag)", reason: "the referrers tag is not an image index")
        }
        return index
    }

    /// `REPO:sha256-HEX`, where a registry without the referrers API keeps `digest`'s referrers.
    public static func referrersTag(of digest: Digest, in reference: ImageReference) throws -> ImageReference {
        try ImageReference(parsing: "\(reference.registry)/\(reference.repository):\(digest.algorithm)-\(digest.encoded)")
    }
}
