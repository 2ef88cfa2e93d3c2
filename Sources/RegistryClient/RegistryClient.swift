import Foundation
import OCILayout
import Synchronization

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

        public init() {}
    }

    public let configuration: Configuration
    let transport: HTTPTransport
    private let sessions = Mutex<[String: RegistrySession]>([:])

    public init(configuration: Configuration = Configuration()) throws {
        self.configuration = configuration
        self.transport = try HTTPTransport(options: configuration.transport)
    }

    /// The session for `reference`'s registry, created on first use. Looking up credentials may
    /// run a credential helper: that waits on a thread of its own.
    func session(for reference: ImageReference) async throws -> RegistrySession {
        if let existing = sessions.withLock({ $0[reference.registry] }) { return existing }
        let sources = configuration.credentials
        let credentials = try await BlockingWork.run { try sources.credentials(registry: reference.registry, repository: reference.repository) }
        return sessions.withLock { table in
            if let existing = table[reference.registry] { return existing }
            let created = RegistrySession(registry: reference.registry, apiHost: reference.apiHost, transport: transport, credentials: credentials)
            table[reference.registry] = created
            return created
        }
    }

    static func pullScope(_ reference: ImageReference) -> String { "repository:\(reference.repository):pull" }

    /// Runs `operation` until it succeeds, fails for good, or ``RetryPolicy/maxAttempts`` is
    /// reached, reporting each retry to `progress`.
    func withRetries<T: Sendable>(
        url: String, progress: TransferEventHandler?,
        _ operation: () async throws -> T
    ) async throws -> T {
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await operation()
            } catch let error as RegistryError where error.isRetryable {
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
