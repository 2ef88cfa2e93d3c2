import CCurlShim
import Synchronization

/// One libcurl easy handle. A handle keeps its connections (and TLS sessions) between
/// transfers, so handles are pooled and reused rather than created per request.
///
/// A handle is used by one thread at a time: the ``HTTPTransport`` pool hands it out and takes
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

    func set(_ option: CURLoption, _ value: Int) {
        _ = mbctl_curl_setopt_long(raw, option, value)
    }

    func set(_ option: CURLoption, offset value: Int64) {
        _ = mbctl_curl_setopt_off_t(raw, option, curl_off_t(value))
    }

    /// libcurl copies string options, so `value` need not outlive the call.
    func set(_ option: CURLoption, _ value: String) {
        _ = value.withCString { mbctl_curl_setopt_string(raw, option, $0) }
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) {
        _ = mbctl_curl_setopt_pointer(raw, option, value)
    }

    var responseCode: Int {
        var code = 0
        _ = mbctl_curl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &code)
        return code
    }
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
