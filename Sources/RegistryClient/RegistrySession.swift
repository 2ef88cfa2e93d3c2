import CCurlShim
import Foundation
import OCILayout

/// The conversation with one registry host: which scheme it speaks, how it wants to be
/// authenticated, and the bearer tokens it handed out (cached per scope until they expire).
///
/// One request goes through ``send(_:scope:sink:bufferLimit:)``, which adds authorization,
/// follows redirects (never taking credentials to another host) and, on a 401, fetches a fresh
/// token once before giving up. Retrying failed requests is the caller's business.
actor RegistrySession {
    let registry: String
    let apiHost: String
    private let transport: any HTTPTransport
    private let credentials: RegistryCredentials?
    /// Plain HTTP is allowed for loopback registries (as Docker does), with TLS verification
    /// off, and for registries registries.conf marks insecure.
    private let allowsPlainHTTP: Bool
    /// registries.conf says this registry is insecure: no TLS verification.
    private let insecure: Bool
    /// This registry's own certificate directory, when it has one.
    private let trust: TrustMaterial?

    private var baseURL: String?
    private var challenge: AuthenticationChallenge?
    private var tokens: [String: CachedToken] = [:]

    private struct CachedToken {
        var value: String
        var expires: Date
    }

    /// `verifyingTLS`: whether TLS certificates are verified at all (`--tls-verify`).
    init(
        registry: String, apiHost: String, transport: any HTTPTransport, verifyingTLS: Bool, credentials: RegistryCredentials?,
        insecure: Bool = false, trust: TrustMaterial? = nil
    ) {
        self.registry = registry
        self.apiHost = apiHost
        self.transport = transport
        self.credentials = credentials
        self.insecure = insecure
        self.trust = trust
        self.allowsPlainHTTP = Self.isLoopback(host: apiHost) || !verifyingTLS || insecure
    }

    /// A request to this registry, with its TLS settings.
    private func request(_ url: String, headers: [(name: String, value: String)] = []) -> HTTPRequest {
        HTTPRequest(url: url, headers: headers, verifyTLS: insecure ? false : nil, trust: trust)
    }

    /// `localhost`, `127.0.0.0/8` and `[::1]`, with or without a port.
    static func isLoopback(host: String) -> Bool {
        var name = host
        if name.hasPrefix("[") {
            name = String(name.dropFirst().prefix { $0 != "]" })
            return name == "::1"
        }
        if let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
        if name == "localhost" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// `https://host/v2` (or `http://` where allowed), found by asking `/v2/` once.
    func base() async throws -> String {
        if let baseURL { return baseURL }
        do {
            try await probe(scheme: "https")
        } catch let error as RegistryError {
            // Fall back only when the server does not speak TLS at all (the handshake fails), not
            // when it does and its certificate is not trusted: that must be reported, not bypassed.
            guard allowsPlainHTTP else { throw error }
            switch error {
            case .tls(_, _, let code) where code == Int(CURLE_SSL_CONNECT_ERROR.rawValue): try await probe(scheme: "http")
            case .transport: try await probe(scheme: "http")
            default: throw error
            }
        }
        return baseURL ?? "https://\(apiHost)/v2"
    }

    private func probe(scheme: String) async throws {
        let url = "\(scheme)://\(apiHost)/v2/"
        let response = try await transport.perform(request(url))
        switch response.status {
        case 200..<300:
            challenge = nil
        case 401:
            let challenges = response.headers.values("WWW-Authenticate").flatMap(AuthenticationChallenge.parse)
            challenge = challenges.first { $0.scheme == "bearer" } ?? challenges.first { $0.scheme == "basic" }
        default:
            throw RegistryError.httpStatus(url: url, status: response.status, detail: RegistryErrorBody.detail(response.body))
        }
        baseURL = "\(scheme)://\(apiHost)/v2"
    }

    /// Sends a GET for `path` below `/v2/`, authorized for `scope` (`repository:NAME:pull`).
    func send(
        path: String, scope: String, headers: [(name: String, value: String)] = [],
        sink: ResponseBodySink? = nil, bufferLimit: Int64 = 64 << 10
    ) async throws -> HTTPResponse {
        try await send(.get, url: try await base() + path, scope: scope, headers: headers, sink: sink, bufferLimit: bufferLimit)
    }

    /// Sends `method` to `url` (below `/v2/`, or where the registry said to go on: an upload's
    /// `Location`), authorized for `scope`: one or more scopes separated by spaces, such as
    /// `repository:NAME:pull,push repository:OTHER:pull`.
    func send(
        _ method: HTTPMethod, url: String, scope: String, headers: [(name: String, value: String)] = [],
        body: HTTPRequestBody? = nil, uploadProgress: (@Sendable (Int64) -> Void)? = nil,
        sink: ResponseBodySink? = nil, bufferLimit: Int64 = 64 << 10
    ) async throws -> HTTPResponse {
        var outgoing = request(url, headers: headers)
        outgoing.method = method
        outgoing.body = body ?? ([.post, .put, .patch].contains(method) ? .bytes([]) : nil)
        outgoing.uploadProgress = uploadProgress
        var response = try await sendFollowingRedirects(outgoing, scope: scope, sink: sink, bufferLimit: bufferLimit)
        if response.status == 401, challenge?.scheme == "bearer" {
            tokens[scope] = nil
            response = try await sendFollowingRedirects(outgoing, scope: scope, sink: sink, bufferLimit: bufferLimit)
        }
        if response.status == 401 {
            throw RegistryError.unauthorized(registry: registry, detail: RegistryErrorBody.detail(response.body))
        }
        return response
    }

    /// Where a `Location` header of a response from `url` points: resolved against it, http or
    /// https only, plain HTTP only where this registry may be spoken to so.
    func resolve(location: String?, of url: String) throws -> String {
        try Self.redirectTarget(location: location, of: url, allowsPlainHTTP: allowsPlainHTTP)
    }

    /// Where a `Location` header of a response from `url` points: resolved against it, http or
    /// https only, plain HTTP only from plain HTTP or where `allowsPlainHTTP`.
    static func redirectTarget(location: String?, of url: String, allowsPlainHTTP: Bool) throws -> String {
        guard let location, let next = URL(string: location, relativeTo: URL(string: url))?.absoluteURL,
            let scheme = next.scheme?.lowercased()
        else {
            throw RegistryError.invalidResponse(url: url, reason: "no usable Location in the answer")
        }
        guard scheme == "https" || (scheme == "http" && (allowsPlainHTTP || url.hasPrefix("http:"))) else {
            throw RegistryError.redirectRefused(url: url, reason: "to \(scheme):// is not allowed")
        }
        return next.absoluteString
    }

    private func sendFollowingRedirects(
        _ request: HTTPRequest, scope: String, sink: ResponseBodySink?, bufferLimit: Int64
    ) async throws -> HTTPResponse {
        var current = request
        var authorization = try await authorizationHeader(scope: scope)
        for _ in 0..<10 {
            // Credentials are for the registry only: a redirect, or an upload Location, to
            // storage elsewhere goes without.
            if let url = URL(string: current.url), Self.authority(of: url) != apiHost.lowercased() { authorization = nil }
            var outgoing = current
            if let authorization { outgoing = outgoing.adding("Authorization", authorization) }
            let response = try await transport.perform(outgoing, sink: sink, bufferLimit: bufferLimit)
            guard [301, 302, 303, 307, 308].contains(response.status) else { return response }
            current.url = try resolve(location: response.headers["Location"], of: current.url)
            if response.status == 303 {
                current.method = .get
                current.body = nil
            }
        }
        throw RegistryError.redirectRefused(url: request.url, reason: "more than 10 redirects")
    }

    private static func authority(of url: URL) -> String {
        let host = (url.host ?? "").lowercased()
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return url.port.map { "\(bracketed):\($0)" } ?? bracketed
    }

    private func authorizationHeader(scope: String) async throws -> String? {
        guard let challenge else { return nil }
        switch challenge.scheme {
        case "basic":
            return credentials?.basicAuthorization
        case "bearer":
            if let cached = tokens[scope], cached.expires > Date() { return "Bearer \(cached.value)" }
            let token = try await fetchToken(challenge: challenge, scope: scope)
            tokens[scope] = token
            return "Bearer \(token.value)"
        default:
            return nil
        }
    }

    /// A token server's answer is a few KiB at most.
    static let tokenResponseLimit: Int64 = 256 << 10

    /// Where a registry may send mbctl for tokens. A realm over plain HTTP is taken only where
    /// the registry itself may be spoken to without TLS (loopback, `--tls-verify=false`), never
    /// when it speaks HTTPS, and credentials go over plain HTTP only to the registry's own host:
    /// a challenge must not be able to lure the user's password onto the network in clear.
    private func checkRealm(_ realm: String, scheme: String, host: String) throws {
        guard scheme == "http" else { return }
        let registryUsesTLS = baseURL?.hasPrefix("https:") ?? true
        if registryUsesTLS && (credentials != nil || !allowsPlainHTTP) {
            throw RegistryError.insecureTokenRealm(registry: registry, realm: realm, reason: "it is plain HTTP while the registry speaks HTTPS")
        }
        if credentials != nil, host.lowercased() != Self.hostName(of: apiHost) {
            throw RegistryError.insecureTokenRealm(registry: registry, realm: realm, reason: "it is plain HTTP to another host than the registry's")
        }
    }

    /// `host` of `host:port` or `[v6]:port`, lower case.
    static func hostName(of authority: String) -> String {
        if authority.hasPrefix("[") { return String(authority.dropFirst().prefix { $0 != "]" }).lowercased() }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "").lowercased()
    }

    /// The token flow of the distribution spec (auth/token.md): GET the realm with service and
    /// scope, with Basic credentials when we have them.
    private func fetchToken(challenge: AuthenticationChallenge, scope: String) async throws -> CachedToken {
        guard let realm = challenge.parameters["realm"], var components = URLComponents(string: realm),
            let realmScheme = components.scheme?.lowercased(), realmScheme == "https" || realmScheme == "http"
        else {
            throw RegistryError.invalidResponse(url: "\(registry)/v2/", reason: "bearer challenge without a usable realm")
        }
        var query = components.queryItems ?? []
        if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        for part in scope.split(separator: " ") { query.append(URLQueryItem(name: "scope", value: String(part))) }
        components.queryItems = query
        guard let url = components.url?.absoluteString else {
            throw RegistryError.invalidResponse(url: realm, reason: "cannot build the token request")
        }
        try checkRealm(realm, scheme: realmScheme, host: components.host ?? "")
        var tokenRequest = request(url)
        if let credentials { tokenRequest = tokenRequest.adding("Authorization", credentials.basicAuthorization) }
        let response = try await transport.perform(tokenRequest, sink: nil, bufferLimit: Self.tokenResponseLimit)
        switch response.status {
        case 200:
            break
        case 401, 403:
            let who = credentials.map { "user \"\($0.username)\"" } ?? "anonymous access"
            throw RegistryError.unauthorized(registry: registry, detail: "the token server \(components.host ?? realm) refused \(who)")
        default:
            throw RegistryError.httpStatus(url: url, status: response.status, detail: RegistryErrorBody.detail(response.body))
        }
        guard let answer = TokenResponse(parsing: response.body) else {
            throw RegistryError.invalidResponse(url: url, reason: "no token in the token server's answer")
        }
        // Renew a little early.
        return CachedToken(value: answer.token, expires: Date().addingTimeInterval(answer.lifetime - 5))
    }
}

/// A token server's answer (distribution spec, auth/token.md): `token` (or OAuth's
/// `access_token`) and `expires_in` seconds.
public struct TokenResponse: Equatable, Sendable {
    public let token: String
    /// Seconds the token may be used: a missing `expires_in` means 60 (the spec), and a lifetime
    /// is kept between 10 seconds and a day whatever the server says.
    public let lifetime: Double

    /// Nil when `body` holds no token. A token is an HTTP header value: printable ASCII only.
    public init?(parsing body: [UInt8]) {
        struct Answer: Decodable {
            var token: String?
            var access_token: String?
            var expires_in: Int?
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(body)),
            let value = answer.token ?? answer.access_token, !value.isEmpty,
            value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return nil }
        token = value
        lifetime = Double(min(max(answer.expires_in ?? 60, 10), 86_400))
    }
}

/// The registry's JSON error body, `{"errors":[{"code":…,"message":…}]}`, read into one line.
enum RegistryErrorBody {
    static func detail(_ body: [UInt8]) -> String {
        struct Body: Decodable {
            struct Entry: Decodable {
                var code: String?
                var message: String?
            }
            var errors: [Entry]
        }
        if let parsed = try? JSONDecoder().decode(Body.self, from: Data(body)), !parsed.errors.isEmpty {
            return parsed.errors.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.unicodeScalars.allSatisfy({ $0.isASCII && ($0.value >= 0x20 || $0 == "\n") }) ? text.replacingOccurrences(of: "\n", with: " ") : ""
    }
}
