import Foundation
import OCILayout
import Synchronization
import BlockingWork

/// Reads images from registries that speak the Docker Registry HTTP API v2 / OCI distribution
/// spec, over libcurl.
///
/// Everything that arrives is verified against its digest before it is used or stored, and
/// every document is read with a size limit, so a hostile registry can neither slip in other
/// content nor exhaust memory.
public final class RegistryClient: Sendable {
    public struct Configuration: Sendable {
        public var transport = TransportOptions()
        public var credentials = CredentialSources()
        public var retry = RetryPolicy()
        /// Mirrors, rewrites, insecure and blocked registries, short names (registries.conf).
        public var registries = RegistriesConfiguration()

        public init() {}
    }

    public let configuration: Configuration
    let transport: any HTTPTransport
    private let sessions = Mutex<[String: RegistrySession]>([:])

    public init(configuration: Configuration = Configuration()) throws {
        self.configuration = configuration
        self.transport = try CurlTransport(options: configuration.transport)
    }

    /// A client whose requests go to `transport` (an in-process fake, in tests).
    init(configuration: Configuration, transport: any HTTPTransport) {
        self.configuration = configuration
        self.transport = transport
    }

    /// The session for `reference`'s registry, created on first use. Looking up credentials may
    /// run a credential helper: that waits on a thread of its own. A mirror's session
    /// (`asMirror`) never gets the credentials given with `--creds`: those are the image's
    /// registry's; a mirror gets those its own auth files hold for its host.
    func session(for reference: ImageReference, asMirror: Bool = false, insecure: Bool = false) async throws -> RegistrySession {
        let key = "\(reference.registry) \(asMirror)"
        if let existing = sessions.withLock({ $0[key] }) { return existing }
        var lookup = configuration.credentials
        if asMirror { lookup.explicit = nil }
        let sources = lookup
        let credentials = try await BlockingWork.run { try sources.credentials(registry: reference.registry, repository: reference.repository) }
        let trust = try certificates(for: reference.registry)
        let insecure = insecure || configuration.registries.isInsecure(reference.registry)
        return sessions.withLock { table in
            if let existing = table[key] { return existing }
            let created = RegistrySession(
                registry: reference.registry, apiHost: reference.apiHost, transport: transport, verifyingTLS: configuration.transport.verifyTLS,
                credentials: credentials, insecure: insecure, trust: trust)
            table[key] = created
            return created
        }
    }

    /// The registry's own certificate directory (`certs.d/HOST:PORT/`), where `--cert-dir` does
    /// not say otherwise.
    func certificates(for registry: String) throws -> TrustMaterial? {
        if let directory = configuration.transport.registryCertificateDirectories[registry] { return try TrustMaterial(directory: directory) }
        guard configuration.transport.certificateDirectory == nil else { return nil }
        for root in configuration.transport.certificateRoots {
            let directory = "\(root)/\(registry)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue {
                return try TrustMaterial(directory: directory)
            }
        }
        return nil
    }

    static func pullScope(_ reference: ImageReference) -> String { "repository:\(reference.repository):pull" }

    /// Runs `operation` until it succeeds, fails for good, or ``RetryPolicy/maxAttempts`` is
    /// reached, reporting each retry to `progress`.
    func withRetries<T: Sendable>(
        url: String, progress: TransferEventHandler?, retrying: Bool = true,
        _ operation: () async throws -> T
    ) async throws -> T {
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await operation()
            } catch let error as RegistryError where error.isRetryable {
                guard retrying else { throw error }
                guard attempt < policy.maxAttempts else {
                    throw RegistryError.retriesExhausted(url: url, attempts: attempt, lastError: error)
                }
                let delay = policy.delay(afterAttempt: attempt, retryAfter: error.retryAfter)
                progress?(.retrying(url: url, attempt: attempt, delay: delay, reason: error.description))
                try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            }
        }
    }
}
