import Foundation
import OCILayout

extension RegistryClient {
    /// The most tags read from one repository, and the largest page: far beyond any real
    /// repository, a bound on what a registry can make mbctl hold.
    static let mostTags = 100_000
    static let largestTagPage: Int64 = 8 << 20

    /// Every tag of `reference`'s repository (`GET /v2/NAME/tags/list`, following the registry's
    /// `Link: <…>; rel="next"` pages), in the registry's order. A tag that is not a valid tag
    /// (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) is an error naming it.
    public func listTags(_ reference: ImageReference, progress: TransferEventHandler? = nil) async throws -> [String] {
        let session = try await session(for: reference)
        var path = "/\(reference.repository)/tags/list?n=1000"
        var tags: [String] = []
        var pages = 0
        while true {
            pages += 1
            let current = path
            let url = "\(reference.registry)/v2\(current)"
            let response = try await withRetries(url: url, progress: progress) {
                let response = try await session.send(path: current, scope: Self.pullScope(reference), bufferLimit: Self.largestTagPage)
                try Self.check(response, what: "the tags of \(reference.repository)")
                return response
            }
            struct Page: Decodable { var tags: [String]? }
            guard let page = try? JSONDecoder().decode(Page.self, from: Data(response.body)) else {
                throw RegistryError.invalidResponse(url: url, reason: "its tag list is not the JSON of the distribution API")
            }
            for tag in page.tags ?? [] {
                guard ImageReference.isValidTag(tag) else { throw RegistryError.invalidResponse(url: url, reason: "it lists \"\(tag)\", which is no tag") }
                tags.append(tag)
            }
            guard tags.count <= Self.mostTags, pages <= Self.mostTags / 10 else {
                throw RegistryError.invalidResponse(url: url, reason: "it lists more than \(Self.mostTags) tags")
            }
            guard let next = Self.nextPage(response.headers["Link"], repository: reference.repository) else { return tags }
            path = next
        }
    }

    /// The path below `/v2` of a `Link: </v2/NAME/tags/list?…>; rel="next"` header; nil when
    /// there is none, or it leads to another repository or host.
    static func nextPage(_ link: String?, repository: String) -> String? {
        guard let link, link.contains("rel=\"next\"") || link.contains("rel=next"),
            let open = link.firstIndex(of: "<"), let close = link[open...].firstIndex(of: ">")
        else { return nil }
        let target = link[link.index(after: open)..<close]
        guard target.hasPrefix("/v2/\(repository)/tags/list") else { return nil }
        return String(target.dropFirst("/v2".count))
    }

    /// The digest of the manifest `reference` names in its registry now (`HEAD`, the registry's
    /// `Docker-Content-Digest`); nil when it names none (404).
    public func manifestDigest(_ reference: ImageReference, progress: TransferEventHandler? = nil) async throws -> Digest? {
        let session = try await session(for: reference)
        let url = try await session.base() + "/\(reference.repository)/manifests/\(reference.manifestReference)"
        return try await withRetries(url: url, progress: progress) {
            let response = try await session.send(.head, url: url, scope: Self.pullScope(reference), headers: [("Accept", Self.manifestAccept)])
            if response.status == 404 { return nil }
            try Self.check(response, what: "manifest \(reference.repository):\(reference.manifestReference)")
            guard let header = response.headers["Docker-Content-Digest"], let digest = try? Digest(parsing: header) else {
                throw RegistryError.invalidResponse(url: url, reason: "it does not say the manifest's digest (Docker-Content-Digest)")
            }
            return digest
        }
    }
}
