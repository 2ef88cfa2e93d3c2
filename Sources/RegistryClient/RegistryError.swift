import OCILayout

/// Errors of the registry client. Each names the registry, repository, URL or digest at fault,
/// and says whether trying again could help (``isRetryable``).
public enum RegistryError: Error, Sendable {
    /// The connection failed (DNS, refused, reset, timed out, stalled): libcurl's message.
    case transport(url: String, message: String, code: Int)
    /// TLS could not be established or the certificate was not trusted (libcurl's code).
    case tls(url: String, message: String, code: Int)
    /// The server answered with a status mbctl did not expect; `detail` is the registry's own
    /// error text when it sent one.
    case httpStatus(url: String, status: Int, detail: String)
    /// 429 or 503: the registry asks us to slow down, perhaps saying for how long.
    case throttled(url: String, status: Int, retryAfter: Double?, detail: String)
    case unauthorized(registry: String, detail: String)
    case notFound(what: String, url: String)
    case responseTooLarge(url: String, limit: Int64)
    case digestMismatch(what: String, expected: String, actual: String)
    case invalidResponse(url: String, reason: String)
    case redirectRefused(url: String, reason: String)
    indirect case retriesExhausted(url: String, attempts: Int, lastError: RegistryError)
    /// A resumed download could not continue where it stopped and starts over: worth another try.
    case downloadRestarted(url: String, reason: String)
    case invalidReference(String, reason: String)
    case credentials(source: String, reason: String)
    case content(OCILayoutError)
    /// The request could not be set up (libcurl missing or refusing an option): trying again
    /// cannot help.
    case setup(url: String, reason: String)
    /// registries.conf (or another registry configuration file) cannot be used.
    case configuration(source: String, reason: String)
    /// registries.conf blocks the registry.
    case blocked(registry: String, prefix: String)
    /// No endpoint (mirror or primary) gave the image; each one's error.
    indirect case noEndpoint(image: String, errors: [(endpoint: String, error: RegistryError)])
    /// The registry's bearer challenge names a token realm credentials must not go to.
    case insecureTokenRealm(registry: String, realm: String, reason: String)

    /// The `Retry-After` delay a throttling registry asked for.
    public var retryAfter: Double? {
        if case .throttled(_, _, let seconds, _) = self { return seconds }
        return nil
    }

    /// Whether the same request may succeed if repeated: network trouble, 5xx and 429.
    public var isRetryable: Bool {
        switch self {
        case .transport, .throttled, .downloadRestarted: return true
        case .httpStatus(_, let status, _): return status >= 500 || status == 429 || status == 408
        default: return false
        }
    }
}

extension RegistryError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .transport(let url, let message, _):
            return "cannot reach \(url): \(message)"
        case .tls(let url, let message, _):
            return "TLS failed for \(url): \(message) (trust its CA with --cert-dir, or use --tls-verify=false)"
        case .httpStatus(let url, let status, let detail):
            return "\(url) answered HTTP \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        case .throttled(let url, let status, _, let detail):
            return "\(url) answered HTTP \(status) (too busy)" + (detail.isEmpty ? "" : ": \(detail)")
        case .unauthorized(let registry, let detail):
            return "unauthorized: \(registry) refused access" + (detail.isEmpty ? "" : " (\(detail))") + "; check --creds or the auth file"
        case .notFound(let what, let url):
            return "\(what) not found (\(url))"
        case .responseTooLarge(let url, let limit):
            return "\(url) sent more than \(limit) bytes, the limit for this document"
        case .digestMismatch(let what, let expected, let actual):
            return "\(what) does not match its digest: expected \(expected), got \(actual)"
        case .invalidResponse(let url, let reason):
            return "\(url) sent an invalid response: \(reason)"
        case .redirectRefused(let url, let reason):
            return "refused redirect from \(url): \(reason)"
        case .downloadRestarted(let url, let reason):
            return "\(url): \(reason); the download starts over"
        case .retriesExhausted(let url, let attempts, let lastError):
            return "gave up on \(url) after \(attempts) attempts: \(lastError)"
        case .invalidReference(let text, let reason):
            return "invalid image reference \"\(text)\": \(reason)"
        case .credentials(let source, let reason):
            return "credentials from \(source): \(reason)"
        case .content(let error):
            return error.description
        case .insecureTokenRealm(let registry, let realm, let reason):
            return "\(registry) sends mbctl for tokens to \(realm), but \(reason); mbctl will not go there with credentials"
        case .configuration(let source, let reason):
            return "\(source): \(reason)"
        case .blocked(let registry, let prefix):
            return "\(registry) is blocked by registries.conf (the [[registry]] for \(prefix))"
        case .noEndpoint(let image, let errors):
            return "\(image) could not be pulled from " + errors.map { "\($0.endpoint) (\($0.error))" }.joined(separator: "; ")
        case .setup(let url, let reason):
            return "cannot send a request to \(url): \(reason)"
        }
    }
}
