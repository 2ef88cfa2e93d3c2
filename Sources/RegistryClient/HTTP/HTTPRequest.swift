/// A GET request as the registry client makes it: mbctl only reads.
struct HTTPRequest: Sendable {
    var url: String
    var headers: [(name: String, value: String)] = []
    /// Overrides ``TransportOptions/verifyTLS`` (a registry registries.conf marks insecure).
    var verifyTLS: Bool?
    /// Overrides the transport's certificates (the registry's own directory in certs.d).
    var trust: TrustMaterial?

    init(url: String, headers: [(name: String, value: String)] = [], verifyTLS: Bool? = nil, trust: TrustMaterial? = nil) {
        self.url = url
        self.headers = headers
        self.verifyTLS = verifyTLS
        self.trust = trust
    }

    func adding(_ name: String, _ value: String) -> HTTPRequest {
        var copy = self
        copy.headers.append((name, value))
        return copy
    }
}

/// Status line and headers of a response, known before its body arrives.
struct HTTPResponseHead: Sendable {
    var status: Int
    var headers: HTTPHeaders
    /// The URL that answered (the request URL; mbctl follows redirects itself).
    var url: String
}

/// A response whose body was collected in memory (bounded; see ``HTTPTransport``).
struct HTTPResponse: Sendable {
    var head: HTTPResponseHead
    var body: [UInt8]

    var status: Int { head.status }
    var headers: HTTPHeaders { head.headers }
}
