/// A GET request as the registry client makes it: mbctl only reads.
struct HTTPRequest: Sendable {
    var url: String
    var headers: [(name: String, value: String)] = []

    init(url: String, headers: [(name: String, value: String)] = []) {
        self.url = url
        self.headers = headers
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
