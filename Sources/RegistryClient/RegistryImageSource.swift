import OCILayout
import Synchronization

/// An image in a registry, as `docker://REFERENCE` names it: the ``ImageSource`` that
/// ``ImageFetcher`` pulls from.
///
/// With registries.conf, the image may come from a mirror: the endpoints (mirrors that may serve
/// the reference, then the primary location) are tried in order for the manifest, and the first
/// that answers serves the whole image. Every digest is checked as always, whichever endpoint
/// sends the bytes.
public final class RegistryImageSource: ImageSource, Sendable {
    public let client: RegistryClient
    public let reference: ImageReference
    public let endpoints: [RegistriesConfiguration.Endpoint]
    /// The endpoint that gave the manifest (set once, before any blob is fetched).
    public var chosen: RegistriesConfiguration.Endpoint { chosenEndpoint.withLock { $0 } }
    private let chosenEndpoint: Mutex<RegistriesConfiguration.Endpoint>

    public init(client: RegistryClient, reference: ImageReference) throws {
        self.client = client
        self.reference = reference
        let registries = client.configuration.registries
        self.endpoints = try registries.candidates(for: reference).flatMap { try registries.endpoints(for: $0) }
        self.chosenEndpoint = Mutex(endpoints.last ?? RegistriesConfiguration.Endpoint(reference: reference, insecure: false, isMirror: false))
    }

    public var displayName: String { reference.description }

    public func rootManifest(progress: TransferEventHandler?) async throws -> ManifestDocument {
        var errors: [(endpoint: String, error: RegistryError)] = []
        for (index, endpoint) in endpoints.enumerated() {
            do {
                // A mirror that fails is not retried while another endpoint is left to try: the
                // next one answers sooner than a mirror that is down comes back.
                let document = try await client.fetchManifest(
                    endpoint.reference, asMirror: endpoint.isMirror, insecure: endpoint.insecure,
                    retrying: index == endpoints.count - 1, progress: progress)
                chosenEndpoint.withLock { $0 = endpoint }
                if endpoint.reference != reference {
                    progress?(.source(image: reference.description, from: endpoint.reference.description, mirror: endpoint.isMirror))
                }
                return document
            } catch let error as RegistryError {
                errors.append((endpoint.reference.description + (endpoint.isMirror ? ", a mirror registries.conf names" : ""), error))
                guard endpoints.count > 1 else { throw error }
            }
        }
        throw RegistryError.noEndpoint(image: reference.description, errors: errors)
    }

    public func manifest(_ descriptor: Descriptor, progress: TransferEventHandler?) async throws -> ManifestDocument {
        let chosen = self.chosen
        return try await client.fetchManifest(
            chosen.reference, digest: descriptor.digest, asMirror: chosen.isMirror, insecure: chosen.insecure, progress: progress)
    }

    public func fetchBlob(_ descriptor: Descriptor, into store: ContentStore, progress: TransferEventHandler?) async throws {
        let chosen = self.chosen
        try await client.fetchBlob(descriptor, of: chosen.reference, asMirror: chosen.isMirror, insecure: chosen.insecure, into: store, progress: progress)
    }
}
