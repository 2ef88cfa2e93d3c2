/// Receives the body of a successful (2xx) response as it streams in.
///
/// Called on the transfer's own thread, one call at a time. Throwing aborts the transfer and
/// the error is rethrown to the caller of ``HTTPTransport/perform(_:sink:bufferLimit:)``.
/// A sink is handed from the requesting task to the transfer thread and back, never used by
/// two at once; implementations are `@unchecked Sendable` on that ground.
protocol ResponseBodySink: AnyObject, Sendable {
    /// The head of a 2xx response, before its first byte.
    func begin(_ head: HTTPResponseHead) throws
    func receive(_ bytes: UnsafeRawBufferPointer) throws
    /// Bytes received so far, total expected (0 when unknown), for progress reports.
    func progress(received: Int64, expected: Int64)
}

extension ResponseBodySink {
    func progress(received: Int64, expected: Int64) {}
}
