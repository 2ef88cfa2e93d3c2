import CCurlShim
import Synchronization

/// One libcurl easy handle. A handle keeps its connections (and TLS sessions) between
/// transfers, so handles are pooled and reused rather than created per request.
///
/// A handle is used by one thread at a time: the ``CurlTransport`` pool hands it out and takes
/// it back, which is what makes the `@unchecked Sendable` sound.
final class CurlEasyHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer

    init?() {
        guard CurlRuntime.isReady, let raw = curl_easy_init() else { return nil }
        self.raw = raw
    }

    deinit { curl_easy_cleanup(raw) }

    /// Clears every option set by the previous transfer; connections stay cached.
    func reset() { curl_easy_reset(raw) }

    /// Each `set` throws when libcurl refuses the option (an option this libcurl lacks, say
    /// `CURLOPT_PROTOCOLS_STR` before 7.85): a request is never sent without a setting mbctl
    /// relies on, such as the http/https-only restriction.
    func set(_ option: CURLoption, _ value: Int) throws {
        try check(mbctl_curl_setopt_long(raw, option, value), option)
    }

    func set(_ option: CURLoption, offset value: Int64) throws {
        try check(mbctl_curl_setopt_off_t(raw, option, curl_off_t(value)), option)
    }

    /// libcurl copies string options, so `value` need not outlive the call.
    func set(_ option: CURLoption, _ value: String) throws {
        try check(value.withCString { mbctl_curl_setopt_string(raw, option, $0) }, option)
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws {
        try check(mbctl_curl_setopt_pointer(raw, option, value), option)
    }

    func set(_ option: CURLoption, headers: UnsafeMutablePointer<curl_slist>?) throws {
        try check(mbctl_curl_setopt_slist(raw, option, headers), option)
    }

    func set(_ option: CURLoption, callback: mbctl_curl_data_callback) throws {
        try check(mbctl_curl_setopt_data_callback(raw, option, callback), option)
    }

    func setSeek(_ callback: mbctl_curl_seek_callback) throws {
        try check(mbctl_curl_setopt_seek_callback(raw, callback), CURLOPT_SEEKFUNCTION)
    }

    func setProgress(_ callback: mbctl_curl_xferinfo_callback) throws {
        try check(mbctl_curl_setopt_xferinfo_callback(raw, callback), CURLOPT_XFERINFOFUNCTION)
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws {
        guard code == CURLE_OK else { throw CurlOptionError(option: option, code: code) }
    }

    /// The last response's status code, 0 when libcurl has none.
    var responseCode: Int {
        var code = 0
        guard mbctl_curl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK else { return 0 }
        return code
    }
}

/// libcurl refused an option: what ``CurlTransport`` reports as ``RegistryError/setup(url:reason:)``.
struct CurlOptionError: Error {
    let option: CURLoption
    let code: CURLcode

    var reason: String { "libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))" }
}

/// `list` with `header` appended (`curl_slist_append`); libcurl out of memory is a setup error.
func appendHeader(_ header: String, to list: UnsafeMutablePointer<curl_slist>?) throws -> UnsafeMutablePointer<curl_slist>? {
    guard let appended = curl_slist_append(list, header) else {
        throw CurlOptionError(option: CURLOPT_HTTPHEADER, code: CURLE_OUT_OF_MEMORY)
    }
    return appended
}

/// `curl_global_init`, done once per process before the first handle.
enum CurlRuntime {
    static let isReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// A pool of idle easy handles.
final class CurlHandlePool: Sendable {
    private let idle = Mutex<[CurlEasyHandle]>([])

    func take() -> CurlEasyHandle? {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return CurlEasyHandle()
    }

    func giveBack(_ handle: CurlEasyHandle) {
        handle.reset()
        idle.withLock { if $0.count < 16 { $0.append(handle) } }
    }
}
