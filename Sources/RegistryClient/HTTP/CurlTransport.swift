import CCurlShim
import Foundation
import Synchronization

/// Sends HTTP requests with libcurl, one blocking `curl_easy_perform` per request on a thread
/// of its own, so the Swift concurrency pool never blocks on the network.
///
/// Redirects are not followed here: ``RegistrySession`` follows them itself so it can decide
/// when credentials may go along. Content-Encoding is never requested: blobs must arrive
/// byte for byte as their digests say.
final class CurlTransport: HTTPTransport {
    let options: TransportOptions
    private let pool = CurlHandlePool()
    /// What `--cert-dir` (or the configuration file) gives every registry.
    private let trust: TrustMaterial

    init(options: TransportOptions) throws {
        self.options = options
        self.trust = try TrustMaterial(directory: options.certificateDirectory)
    }

    /// Performs `request` (``CurlTransport``). Bodies of responses other than 2xx are read up to
    /// ``errorBodyLimit`` bytes, for error messages, and the rest is never read: a server cannot
    /// hold mbctl with an endless error page. A request without a sink (a document, a token, a
    /// ping) must be done within ``TransportOptions/requestDeadline``; a blob download or upload
    /// only must not stall (``TransportOptions/lowSpeedLimit``).
    func perform(_ request: HTTPRequest, sink: ResponseBodySink?, bufferLimit: Int64) async throws -> HTTPResponse {
        guard let handle = pool.take() else {
            throw RegistryError.setup(url: request.url, reason: "libcurl could not be initialised")
        }
        let transfer = CurlTransfer(request: request, sink: sink, bufferLimit: bufferLimit)
        let result: Result<HTTPResponse, Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread { [self] in
                    continuation.resume(returning: transfer.run(on: handle, transport: self))
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
        } onCancel: {
            transfer.cancel()
        }
        pool.giveBack(handle)
        return try result.get()
    }

    /// How much of an error response's body is read.
    static let errorBodyLimit = 64 << 10

    /// Sets the options of `request`.
    fileprivate func configure(_ handle: CurlEasyHandle, for request: HTTPRequest, withDeadline: Bool) throws {
        try handle.set(CURLOPT_URL, request.url)
        switch request.method {
        case .get:
            break
        case .head:
            try handle.set(CURLOPT_NOBODY, 1)
        case .put, .patch:
            try handle.set(CURLOPT_UPLOAD, 1)
            try handle.set(CURLOPT_INFILESIZE_LARGE, offset: request.body?.length ?? 0)
            if request.method == .patch { try handle.set(CURLOPT_CUSTOMREQUEST, "PATCH") }
        case .post:
            try handle.set(CURLOPT_POST, 1)
            try handle.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: request.body?.length ?? 0)
        }
        try handle.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try handle.set(CURLOPT_NOSIGNAL, 1)
        try handle.set(CURLOPT_FOLLOWLOCATION, 0)
        try handle.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        try handle.set(CURLOPT_USERAGENT, options.userAgent)
        try handle.set(CURLOPT_CONNECTTIMEOUT, options.connectTimeout)
        try handle.set(CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedLimit)
        try handle.set(CURLOPT_LOW_SPEED_TIME, options.lowSpeedTime)
        if withDeadline {
            try handle.set(CURLOPT_TIMEOUT, options.requestDeadline)
        }
        if options.maxReceiveSpeed > 0 {
            try handle.set(CURLOPT_MAX_RECV_SPEED_LARGE, offset: options.maxReceiveSpeed)
            try handle.set(CURLOPT_MAX_SEND_SPEED_LARGE, offset: options.maxReceiveSpeed)
        }
        let verify = request.verifyTLS ?? options.verifyTLS
        try handle.set(CURLOPT_SSL_VERIFYPEER, verify ? 1 : 0)
        try handle.set(CURLOPT_SSL_VERIFYHOST, verify ? 2 : 0)
        let trust = request.trust ?? self.trust
        if let trustedCAs = trust.caBundle {
            try trustedCAs.withUnsafeBufferPointer { bytes in
                var blob = curl_blob(data: UnsafeMutableRawPointer(mutating: bytes.baseAddress), len: bytes.count, flags: UInt32(CURL_BLOB_COPY))
                try withUnsafeMutablePointer(to: &blob) { try handle.set(CURLOPT_CAINFO_BLOB, pointer: UnsafeMutableRawPointer($0)) }
            }
        }
        if let clientCertificate = trust.clientCertificate {
            try handle.set(CURLOPT_SSLCERT, clientCertificate.certificate)
            try handle.set(CURLOPT_SSLKEY, clientCertificate.key)
        }
    }
}

/// The state of one transfer, shared between Swift and libcurl's C callbacks.
///
/// Confined to the transfer thread while `curl_easy_perform` runs, except ``cancel()``, which
/// only flips an atomic flag; hence `@unchecked Sendable`.
private final class CurlTransfer: @unchecked Sendable {
    let request: HTTPRequest
    let sink: ResponseBodySink?
    let bufferLimit: Int64
    let cancelled = Atomic<Bool>(false)

    var status = 0
    var headers = HTTPHeaders()
    var headDelivered = false
    var deliversToSink = false
    var body: [UInt8] = []
    var received: Int64 = 0
    var failure: Error?
    var errorBodyCut = false
    /// The request body being sent: the file's descriptor (for a file body) and how far it got.
    var bodyFile: Int32 = -1
    var sent: Int64 = 0

    init(request: HTTPRequest, sink: ResponseBodySink?, bufferLimit: Int64) {
        self.request = request
        self.sink = sink
        self.bufferLimit = bufferLimit
    }

    func cancel() { cancelled.store(true, ordering: .relaxed) }

    var head: HTTPResponseHead { HTTPResponseHead(status: status, headers: headers, url: request.url) }

    func run(on handle: CurlEasyHandle, transport: CurlTransport) -> Result<HTTPResponse, Error> {
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let code: CURLcode
        defer { if bodyFile >= 0 { close(bodyFile) } }
        do {
            try transport.configure(handle, for: request, withDeadline: sink == nil && !request.isBulk)
            if let body = request.body {
                if case .file(let path, _, _) = body {
                    bodyFile = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                    guard bodyFile >= 0 else {
                        return .failure(RegistryError.setup(url: request.url, reason: "cannot open \(path): \(String(cString: strerror(errno)))"))
                    }
                }
                try handle.set(CURLOPT_READFUNCTION, callback: curlReadCallback)
                try handle.set(CURLOPT_READDATA, pointer: context)
                try handle.setSeek(curlSeekCallback)
                try handle.set(CURLOPT_SEEKDATA, pointer: context)
            }
            if request.method == .post, !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
                // libcurl would send a form's type; an upload start has no type at all.
                headerList = try appendHeader("Content-Type:", to: headerList)
            }
            for header in request.headers {
                headerList = try appendHeader("\(header.name): \(header.value)", to: headerList)
            }
            // Without this libcurl sends "Expect: 100-continue" and "Accept: */*"; keep requests plain.
            headerList = try appendHeader("Expect:", to: headerList)
            try handle.set(CURLOPT_HTTPHEADER, headers: headerList)
            code = try errorBuffer.withUnsafeMutableBufferPointer { buffer in
                try handle.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(buffer.baseAddress))
                try handle.set(CURLOPT_HEADERFUNCTION, callback: curlHeaderCallback)
                try handle.set(CURLOPT_HEADERDATA, pointer: context)
                try handle.set(CURLOPT_WRITEFUNCTION, callback: curlWriteCallback)
                try handle.set(CURLOPT_WRITEDATA, pointer: context)
                try handle.setProgress(curlProgressCallback)
                try handle.set(CURLOPT_XFERINFODATA, pointer: context)
                try handle.set(CURLOPT_NOPROGRESS, 0)
                return curl_easy_perform(handle.raw)
            }
        } catch let error as CurlOptionError {
            return .failure(RegistryError.setup(url: request.url, reason: error.reason))
        } catch {
            return .failure(error)
        }
        if let failure { return .failure(failure) }
        if cancelled.load(ordering: .relaxed) { return .failure(CancellationError()) }
        // An error body cut at its limit ends the transfer early on purpose: the answer is complete.
        guard code == CURLE_OK || (code == CURLE_WRITE_ERROR && errorBodyCut) else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            return .failure(Self.classify(code, url: request.url, message: message))
        }
        status = handle.responseCode
        if !headDelivered {
            do { try deliverHead() } catch { return .failure(error) }
        }
        return .success(HTTPResponse(head: head, body: body))
    }

    static func classify(_ code: CURLcode, url: String, message: String) -> RegistryError {
        switch code {
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return .tls(url: url, message: message, code: Int(code.rawValue))
        default:
            return .transport(url: url, message: message, code: Int(code.rawValue))
        }
    }

    func headerLine(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            // A new response begins (after a 1xx, or a proxy's CONNECT answer).
            headers = HTTPHeaders()
            let parts = trimmed.split(separator: " ", maxSplits: 2)
            status = parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = String(trimmed[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            headers.append(name: name, value: value)
        }
    }

    func deliverHead() throws {
        headDelivered = true
        if let sink, (200..<300).contains(status) {
            deliversToSink = true
            try sink.begin(head)
        }
    }

    func bodyBytes(_ bytes: UnsafeRawBufferPointer) throws {
        if !headDelivered { try deliverHead() }
        received += Int64(bytes.count)
        if deliversToSink, let sink {
            try sink.receive(bytes)
        } else if (200..<300).contains(status) {
            guard Int64(body.count + bytes.count) <= bufferLimit else {
                throw RegistryError.responseTooLarge(url: request.url, limit: bufferLimit)
            }
            body.append(contentsOf: bytes)
        } else {
            let room = CurlTransport.errorBodyLimit - body.count
            body.append(contentsOf: bytes.prefix(room))
            if bytes.count >= room {
                errorBodyCut = true
                throw ErrorBodyCut()
            }
        }
    }

    /// Stops the transfer once an error body reached its limit (not an error of the request).
    struct ErrorBodyCut: Error {}

    /// Fills `buffer` with the next bytes of the request body; 0 at its end. A file that
    /// ends before the length the request announced is an error, not a short upload.
    func bodyBytes(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let body = request.body else { return 0 }
        let wanted = Int(min(Int64(buffer.count), body.length - sent))
        guard wanted > 0 else { return 0 }
        switch body {
        case .bytes(let bytes):
            let start = Int(sent)
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]).copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + wanted]))
            }
            sent += Int64(wanted)
            return wanted
        case .file(let path, let offset, _):
            let count = pread(bodyFile, buffer.baseAddress, wanted, off_t(offset + sent))
            guard count > 0 else {
                let reason = count == 0 ? "it ended early" : String(cString: strerror(errno))
                throw RegistryError.setup(url: request.url, reason: "cannot read \(path): \(reason)")
            }
            sent += Int64(count)
            return count
        }
    }

    /// libcurl rewinds the body to resend it (after a redirect or an authentication round).
    func seekBody(to offset: Int64) -> Bool {
        guard let body = request.body, offset >= 0, offset <= body.length else { return false }
        sent = offset
        return true
    }
}

private let curlHeaderCallback: mbctl_curl_data_callback = { buffer, size, count, context in
    guard let buffer, let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    transfer.headerLine(line)
    return length
}

private let curlWriteCallback: mbctl_curl_data_callback = { buffer, size, count, context in
    guard let buffer, let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    do {
        try transfer.bodyBytes(UnsafeRawBufferPointer(start: buffer, count: length))
        return length
    } catch is CurlTransfer.ErrorBodyCut {
        return 0
    } catch {
        transfer.failure = error
        return 0
    }
}

private let curlReadCallback: mbctl_curl_data_callback = { buffer, size, count, context in
    guard let buffer, let context else { return Int(CURL_READFUNC_ABORT) }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    if transfer.cancelled.load(ordering: .relaxed) { return Int(CURL_READFUNC_ABORT) }
    do {
        return try transfer.bodyBytes(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
    } catch {
        transfer.failure = error
        return Int(CURL_READFUNC_ABORT)
    }
}

private let curlSeekCallback: mbctl_curl_seek_callback = { context, offset, origin in
    guard let context, origin == SEEK_SET else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.seekBody(to: Int64(offset)) ? Int32(CURL_SEEKFUNC_OK) : Int32(CURL_SEEKFUNC_FAIL)
}

private let curlProgressCallback: mbctl_curl_xferinfo_callback = { context, downloadTotal, downloadNow, _, uploadNow in
    guard let context else { return 1 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    if transfer.cancelled.load(ordering: .relaxed) { return 1 }
    if uploadNow > 0 { transfer.request.uploadProgress?(Int64(uploadNow)) }
    if transfer.deliversToSink {
        transfer.sink?.progress(received: Int64(downloadNow), expected: Int64(downloadTotal))
    }
    return 0
}
