/// Where the registry client's HTTP requests go: libcurl (``CurlTransport``) on a real host, an
/// in-process fake in unit tests (the seam that lets fetch, auth and push be tested without a
/// registry or a network).
protocol HTTPTransport: Sendable {
    /// Performs `request`. The body of a 2xx response goes to `sink` when one is given, else it
    /// is collected up to `bufferLimit` bytes (more is an error naming the URL); the body of
    /// another response is collected, bounded, for error messages. Redirects are returned, not
    /// followed (``RegistrySession`` decides where credentials may go).
    func perform(_ request: HTTPRequest, sink: ResponseBodySink?, bufferLimit: Int64) async throws -> HTTPResponse
}

extension HTTPTransport {
    func perform(_ request: HTTPRequest, sink: ResponseBodySink? = nil) async throws -> HTTPResponse {
        try await perform(request, sink: sink, bufferLimit: 64 << 10)
    }
}
