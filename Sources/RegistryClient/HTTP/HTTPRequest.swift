import Foundation

/// The methods the registry protocol uses: reads (GET, HEAD) and, to push, uploads (POST to
/// start one, PATCH a chunk, PUT to finish it or to put a manifest).
enum HTTPMethod: String, Sendable {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case patch = "PATCH"
}

/// What a request sends: bytes in memory (a manifest, nothing) or a stretch of a file (a blob,
/// or a chunk of one), read as libcurl sends it and from the start again when it resends.
enum HTTPRequestBody: Sendable {
    case bytes([UInt8])
    /// `length` bytes of the file at `path` from `offset`. The file is opened without following
    /// a symlink, when the request is sent.
    case file(path: String, offset: Int64, length: Int64)

    var length: Int64 {
        switch self {
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, _, let length): return length
        }
    }
}

/// A request as the registry client makes it.
struct HTTPRequest: Sendable {
    var method: HTTPMethod = .get
    var url: String
    var headers: [(name: String, value: String)] = []
    var body: HTTPRequestBody?
    /// Overrides ``TransportOptions/verifyTLS`` (a registry registries.conf marks insecure).
    var verifyTLS: Bool?
    /// Overrides the transport's certificates (the registry's own directory in certs.d).
    var trust: TrustMaterial?
    /// Told how many bytes of the body have gone out (uploads).
    var uploadProgress: (@Sendable (Int64) -> Void)?

    init(
        _ method: HTTPMethod = .get, url: String, headers: [(name: String, value: String)] = [], body: HTTPRequestBody? = nil,
        verifyTLS: Bool? = nil, trust: TrustMaterial? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.verifyTLS = verifyTLS
        self.trust = trust
    }

    func adding(_ name: String, _ value: String) -> HTTPRequest {
        var copy = self
        copy.headers.append((name, value))
        return copy
    }

    /// Whether the whole exchange is small enough to be held to the request deadline: a blob
    /// upload or download is only held to not stalling.
    var isBulk: Bool { (body?.length ?? 0) > 1 << 20 }
}

/// Status line and headers of a response, known before its body arrives.
struct HTTPResponseHead: Sendable {
    var status: Int
    var headers: HTTPHeaders
    /// The URL that answered (the request URL; mbctl follows redirects itself).
    var url: String
}

/// A response whose body was collected in memory (bounded; see ``CurlTransport``).
struct HTTPResponse: Sendable {
    var head: HTTPResponseHead
    var body: [UInt8]

    var status: Int { head.status }
    var headers: HTTPHeaders { head.headers }
}
