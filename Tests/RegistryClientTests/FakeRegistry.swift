import Foundation
import OCILayout
@testable import RegistryClient
import Synchronization

/// An in-process registry behind the client's ``HTTPTransport`` seam: the part of the
/// distribution API mbctl speaks (ping, manifests, blobs, uploads with chunks and mounts, Bearer
/// tokens), held in memory. It records every request, so tests can check what the client asked
/// for and in which order, in milliseconds and without a network.
final class FakeRegistry: HTTPTransport {
    struct Request: CustomStringConvertible {
        let method: HTTPMethod
        /// The path and query, without scheme and host.
        let target: String
        let authorization: String?

        var description: String { "\(method.rawValue) \(target)" }
    }

    private struct State {
        var manifests: [String: (mediaType: String, bytes: [UInt8])] = [:]  // "repo:reference"
        var blobs: [String: [UInt8]] = [:]  // "repo@digest"
        var uploads: [String: (repository: String, bytes: [UInt8])] = [:]
        var requests: [Request] = []
        /// Answers to give instead of the real one, by "METHOD path", each once.
        var failures: [String: [Int]] = [:]
        /// Bytes served for a blob instead of its own (a registry that lies).
        var forged: [String: [UInt8]] = [:]
        /// Referrers indexes by "repo@digest"; with none set, the referrers API answers 404 (a
        /// registry without it).
        var referrers: [String: [UInt8]] = [:]
        /// Tag list pages by repository, each with the `Link` header it is served with.
        var tagPages: [String: [(tags: [String], link: String?)]] = [:]
        var tokensIssued = 0
        /// Tokens the registry takes; a token issued and then revoked is refused once more.
        var validTokens: Set<String> = []
    }

    /// Whether requests need a Bearer token from the token endpoint (`/token`).
    let requiresToken: Bool
    private let state = Mutex(State())

    init(requiresToken: Bool = false) {
        self.requiresToken = requiresToken
    }

    // MARK: Contents

    func putBlob(_ bytes: [UInt8], in repository: String) -> Descriptor {
        let digest = Digest.sha256(of: Data(bytes))
        state.withLock { $0.blobs["\(repository)@\(digest)"] = bytes }
        return Descriptor(mediaType: "application/octet-stream", digest: digest, size: Int64(bytes.count))
    }

    func putManifest(_ bytes: [UInt8], mediaType: String, in repository: String, as reference: String) -> Digest {
        let digest = Digest.sha256(of: Data(bytes))
        state.withLock {
            $0.manifests["\(repository):\(reference)"] = (mediaType, bytes)
            $0.manifests["\(repository):\(digest)"] = (mediaType, bytes)
        }
        return digest
    }

    func hasBlob(_ digest: Digest, in repository: String) -> Bool { state.withLock { $0.blobs["\(repository)@\(digest)"] != nil } }
    func manifest(_ reference: String, in repository: String) -> [UInt8]? { state.withLock { $0.manifests["\(repository):\(reference)"]?.bytes } }

    /// The next request `method path` is answered with `statuses` in turn (then as usual).
    func fail(_ method: HTTPMethod, _ path: String, with statuses: [Int]) {
        state.withLock { $0.failures["\(method.rawValue) \(path)"] = statuses }
    }

    /// Serves `bytes` for blob `digest` of `repository`: a registry that lies.
    func forge(_ digest: Digest, in repository: String, as bytes: [UInt8]) {
        state.withLock { $0.forged["\(repository)@\(digest)"] = bytes }
    }

    /// Serves `pages` as the tag list of `repository`: page N (`?page=N`) links to page N+1, or
    /// where `links` says (a registry that points elsewhere).
    func serveTags(_ pages: [[String]], in repository: String, links: [String?]? = nil) {
        let served = pages.enumerated().map { index, tags -> (tags: [String], link: String?) in
            let next = index + 1 < pages.count ? "</v2/\(repository)/tags/list?n=1000&page=\(index + 1)>; rel=\"next\"" : nil
            return (tags, links.map { $0[index] } ?? next)
        }
        state.withLock { $0.tagPages[repository] = served }
    }

    /// Serves `index` as the referrers of manifest `digest` in `repository` (the OCI 1.1 API).
    func serveReferrers(_ index: [UInt8], of digest: Digest, in repository: String) {
        state.withLock { $0.referrers["\(repository)@\(digest)"] = index }
    }

    /// Every token issued so far stops being valid (as when it expires early).
    func revokeTokens() { state.withLock { $0.validTokens.removeAll() } }

    var requests: [Request] { state.withLock { $0.requests } }
    var tokensIssued: Int { state.withLock { $0.tokensIssued } }

    // MARK: HTTPTransport

    func perform(_ request: HTTPRequest, sink: ResponseBodySink?, bufferLimit: Int64) async throws -> HTTPResponse {
        guard let components = URLComponents(string: request.url) else { throw RegistryError.setup(url: request.url, reason: "bad URL") }
        let target = components.percentEncodedPath + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
        let authorization = request.headers.first { $0.name.lowercased() == "authorization" }?.value
        let body = try Self.bytes(of: request.body)
        let (status, headers, answer) = state.withLock { state in
            state.requests.append(Request(method: request.method, target: target, authorization: authorization))
            return Self.answer(
                request.method, path: components.percentEncodedPath, query: components.queryItems ?? [], authorization: authorization,
                body: body, requiresToken: requiresToken, url: request.url, state: &state)
        }
        var head = HTTPResponseHead(status: status, headers: HTTPHeaders(), url: request.url)
        for (name, value) in headers { head.headers.append(name: name, value: value) }
        if (200..<300).contains(status), let sink, request.method == .get {
            try sink.begin(head)
            try answer.withUnsafeBytes { try sink.receive($0) }
            return HTTPResponse(head: head, body: [])
        }
        guard Int64(answer.count) <= bufferLimit || !(200..<300).contains(status) else {
            throw RegistryError.invalidResponse(url: request.url, reason: "more than \(bufferLimit) bytes")
        }
        return HTTPResponse(head: head, body: request.method == .head ? [] : answer)
    }

    private static func bytes(of body: HTTPRequestBody?) throws -> [UInt8] {
        switch body {
        case .none: return []
        case .bytes(let bytes): return bytes
        case .file(let path, let offset, let length):
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            return Array(try handle.read(upToCount: Int(length)) ?? Data())
        }
    }

    private typealias Answer = (status: Int, headers: [(String, String)], body: [UInt8])

    private static func answer(
        _ method: HTTPMethod, path: String, query: [URLQueryItem], authorization: String?, body: [UInt8],
        requiresToken: Bool, url: String, state: inout State
    ) -> Answer {
        if var statuses = state.failures["\(method.rawValue) \(path)"], !statuses.isEmpty {
            let status = statuses.removeFirst()
            state.failures["\(method.rawValue) \(path)"] = statuses
            return (status, [], Array("{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"try later\"}]}".utf8))
        }
        if path == "/token" {
            state.tokensIssued += 1
            let token = "token-\(state.tokensIssued)"
            state.validTokens.insert(token)
            return (200, [("Content-Type", "application/json")], Array("{\"token\":\"\(token)\",\"expires_in\":300}".utf8))
        }
        if requiresToken {
            let token = authorization.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            guard let token, state.validTokens.contains(token) else {
                let challenge = "Bearer realm=\"http://127.0.0.1:5000/token\",service=\"fake\""
                return (401, [("WWW-Authenticate", challenge)], Array("{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".utf8))
            }
        }
        if path == "/v2/" { return (200, [], []) }
        let parts = path.dropFirst("/v2/".count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return (404, [], []) }
        if let kind = parts.firstIndex(of: "manifests"), kind == parts.count - 2 {
            let repository = parts[..<kind].joined(separator: "/"), reference = parts[kind + 1]
            switch method {
            case .get, .head:
                guard let manifest = state.manifests["\(repository):\(reference)"] else { return (404, [], []) }
                let digest = Digest.sha256(of: Data(manifest.bytes))
                return (
                    200, [("Content-Type", manifest.mediaType), ("Docker-Content-Digest", digest.description), ("Content-Length", "\(manifest.bytes.count)")],
                    manifest.bytes
                )
            case .put:
                let digest = Digest.sha256(of: Data(body))
                state.manifests["\(repository):\(reference)"] = ("application/vnd.oci.image.manifest.v1+json", body)
                state.manifests["\(repository):\(digest)"] = ("application/vnd.oci.image.manifest.v1+json", body)
                return (201, [("Docker-Content-Digest", digest.description)], [])
            default:
                return (405, [], [])
            }
        }
        if parts.suffix(2) == ["tags", "list"], method == .get {
            guard let pages = state.tagPages[parts.dropLast(2).joined(separator: "/")] else { return (404, [], []) }
            let index = query.first { $0.name == "page" }?.value.flatMap(Int.init) ?? 0
            guard pages.indices.contains(index) else { return (404, [], []) }
            let body = try? JSONSerialization.data(withJSONObject: ["name": "x", "tags": pages[index].tags])
            return (200, [("Content-Type", "application/json")] + (pages[index].link.map { [("Link", $0)] } ?? []), Array(body ?? Data()))
        }
        if let kind = parts.lastIndex(of: "referrers"), kind == parts.count - 2, method == .get {
            guard let index = state.referrers["\(parts[..<kind].joined(separator: "/"))@\(parts[kind + 1])"] else { return (404, [], []) }
            return (200, [("Content-Type", MediaType.ociIndex)], index)
        }
        if let kind = parts.firstIndex(of: "blobs"), kind + 1 < parts.count {
            let repository = parts[..<kind].joined(separator: "/")
            if parts[kind + 1] == "uploads" {
                return upload(method, repository: repository, id: kind + 2 < parts.count ? parts[kind + 2] : "", query: query, body: body, state: &state)
            }
            let digest = parts[kind + 1]
            guard let blob = state.blobs["\(repository)@\(digest)"] else { return (404, [], []) }
            let served = state.forged["\(repository)@\(digest)"] ?? blob
            return (200, [("Content-Length", "\(served.count)"), ("Docker-Content-Digest", digest)], served)
        }
        return (404, [], [])
    }

    private static func upload(
        _ method: HTTPMethod, repository: String, id: String, query: [URLQueryItem], body: [UInt8], state: inout State
    ) -> Answer {
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        switch method {
        case .post:
            if let mounted = value("mount"), let from = value("from"), let blob = state.blobs["\(from)@\(mounted)"] {
                state.blobs["\(repository)@\(mounted)"] = blob
                return (201, [("Docker-Content-Digest", mounted)], [])
            }
            let id = "upload-\(state.uploads.count + 1)"
            state.uploads[id] = (repository, [])
            return (202, [("Location", "/v2/\(repository)/blobs/uploads/\(id)"), ("Range", "0-0")], [])
        case .patch:
            guard var upload = state.uploads[id] else { return (404, [], []) }
            upload.bytes += body
            state.uploads[id] = upload
            return (202, [("Location", "/v2/\(repository)/blobs/uploads/\(id)"), ("Range", "0-\(max(0, upload.bytes.count - 1))")], [])
        case .put:
            guard var upload = state.uploads.removeValue(forKey: id), let digest = value("digest") else { return (404, [], []) }
            upload.bytes += body
            guard Digest.sha256(of: Data(upload.bytes)).description == digest else {
                return (400, [], Array("{\"errors\":[{\"code\":\"DIGEST_INVALID\"}]}".utf8))
            }
            state.blobs["\(repository)@\(digest)"] = upload.bytes
            return (201, [("Docker-Content-Digest", digest), ("Location", "/v2/\(repository)/blobs/\(digest)")], [])
        default:
            return (405, [], [])
        }
    }
}
