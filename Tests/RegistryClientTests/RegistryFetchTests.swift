import Foundation
import OCILayout
@testable import RegistryClient
import Synchronization
import Testing

/// Pulling through the client against ``FakeRegistry``: what is asked for, in which order, how
/// auth and failures are met, and that nothing unverified is stored. No network, no root.
struct RegistryFetchTests {
    let work = NSTemporaryDirectory() + "mbctl-fetch-\(UUID().uuidString)"

    /// An image of `layers` layers in `repository`, tagged `tag`; its manifest digest and blobs
    /// (config first).
    static func pushImage(to registry: FakeRegistry, repository: String = "team/app", tag: String = "1", layers: Int = 3) throws -> (Digest, [Descriptor]) {
        let config = registry.putBlob(Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8), in: repository)
        let layerDescriptors = (0..<layers).map { index in
            var layer = registry.putBlob(Array("layer \(index) of \(repository):\(tag)".utf8), in: repository)
            layer.mediaType = MediaType.ociLayerGzip
            return layer
        }
        var configDescriptor = config
        configDescriptor.mediaType = MediaType.ociConfig
        let manifest = ImageManifest(config: configDescriptor, layers: layerDescriptors)
        let bytes = Array(try JSONEncoder().encode(manifest))
        let digest = registry.putManifest(bytes, mediaType: MediaType.ociManifest, in: repository, as: tag)
        return (digest, [configDescriptor] + layerDescriptors)
    }

    static func client(_ registry: FakeRegistry, attempts: Int = 3) -> RegistryClient {
        var configuration = RegistryClient.Configuration()
        configuration.retry = RetryPolicy(maxAttempts: attempts, initialDelay: 0, maxDelay: 0)
        return RegistryClient(configuration: configuration, transport: registry)
    }

    func fetch(_ text: String, from registry: FakeRegistry, client: RegistryClient? = nil, progress: TransferEventHandler? = nil) async throws -> FetchedImage {
        let source = try RegistryImageSource(client: client ?? Self.client(registry), reference: try ImageReference(parsing: text))
        return try await ImageFetcher(platform: Platform(os: "linux", architecture: "amd64"), jobs: 2)
            .fetch(from: source, into: ContentStore(root: work), progress: progress)
    }

    @Test func theManifestComesFirstThenTheConfigThenEveryLayerEachVerifiedAndStored() async throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = FakeRegistry()
        let (digest, blobs) = try Self.pushImage(to: registry)
        let image = try await fetch("127.0.0.1:5000/team/app:1", from: registry)
        #expect(image.manifestDescriptor.digest == digest)
        let gets = registry.requests.filter { $0.method == .get }.map(\.target)
        #expect(gets.first == "/v2/")
        #expect(gets.dropFirst().first == "/v2/team/app/manifests/1")
        #expect(gets.dropFirst(2).first == "/v2/team/app/blobs/\(blobs[0].digest)", "the config before any layer: \(gets)")
        #expect(Set(gets.dropFirst(3)) == Set(blobs.dropFirst().map { "/v2/team/app/blobs/\($0.digest)" }))
        for blob in blobs { #expect(ContentStore(root: work).contains(blob.digest)) }
    }

    @Test func aBlobAlreadyStoredIsNotAskedForAgain() async throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = FakeRegistry()
        _ = try Self.pushImage(to: registry)
        _ = try await fetch("127.0.0.1:5000/team/app:1", from: registry)
        let before = registry.requests.count
        _ = try await fetch("127.0.0.1:5000/team/app:1", from: registry)
        let again = registry.requests.dropFirst(before).filter { $0.target.contains("/blobs/") }
        #expect(again.isEmpty, "\(again)")
    }

    @Test func aBlobThatIsNotWhatItsDigestSaysIsNeverStored() async throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = FakeRegistry()
        let (_, blobs) = try Self.pushImage(to: registry)
        registry.forge(blobs[2].digest, in: "team/app", as: Array("layer 9 of team/app:1".utf8))
        await #expect {
            try await fetch("127.0.0.1:5000/team/app:1", from: registry)
        } throws: { error in
            "\(error)".contains(blobs[2].digest.description) && "\(error)".contains("match")
        }
        #expect(!ContentStore(root: work).contains(blobs[2].digest))
    }

    @Test func aBearerTokenIsFetchedOnceAndRenewedOnceWhenTheRegistryStopsTakingIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = FakeRegistry(requiresToken: true)
        _ = try Self.pushImage(to: registry, tag: "1")
        _ = try Self.pushImage(to: registry, tag: "2", layers: 1)
        let client = Self.client(registry)
        _ = try await fetch("127.0.0.1:5000/team/app:1", from: registry, client: client)
        #expect(registry.tokensIssued == 1)
        registry.revokeTokens()
        let before = registry.requests.count
        _ = try await fetch("127.0.0.1:5000/team/app:2", from: registry, client: client)
        #expect(registry.tokensIssued == 2)
        let after = registry.requests.dropFirst(before).filter { $0.target.hasPrefix("/v2/team") }
        // The cached token once (refused), then the new one for everything.
        #expect(after.filter { $0.authorization == "Bearer token-1" }.count == 1, "\(after.map(\.authorization))")
        #expect(after.dropFirst().allSatisfy { $0.authorization == "Bearer token-2" }, "\(after.map(\.authorization))")
    }

    @Test func aTokenServerThatRefusesIsOneErrorNamingTheRegistry() async throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = FakeRegistry(requiresToken: true)
        _ = try Self.pushImage(to: registry)
        registry.fail(.get, "/token", with: [401])
        await #expect {
            try await fetch("127.0.0.1:5000/team/app:1", from: registry)
        } throws: { error in
            guard case RegistryError.unauthorized(let name, _) = error else { return false }
            return name == "127.0.0.1:5000"
        }
    }

    @Test func aServerErrorIsRetriedAndSaidSoAndTheLimitEndsIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = FakeRegistry()
        let (_, blobs) = try Self.pushImage(to: registry, layers: 1)
        let path = "/v2/team/app/blobs/\(blobs[1].digest)"
        registry.fail(.get, path, with: [503, 503])
        let retries = Mutex(0)
        _ = try await fetch(
            "127.0.0.1:5000/team/app:1", from: registry,
            progress: { event in
                if case .retrying = event { retries.withLock { $0 += 1 } }
            })
        #expect(retries.withLock { $0 } == 2)
        #expect(ContentStore(root: work).contains(blobs[1].digest))

        try? FileManager.default.removeItem(atPath: work)
        registry.fail(.get, path, with: [503, 503, 503])
        await #expect {
            try await fetch("127.0.0.1:5000/team/app:1", from: registry)
        } throws: { error in
            guard case RegistryError.retriesExhausted(_, let attempts, _) = error else { return false }
            return attempts == 3
        }
    }

    @Test func aMissingTagIsNotFoundNamingIt() async throws {
        let registry = FakeRegistry()
        await #expect {
            try await fetch("127.0.0.1:5000/team/app:nope", from: registry)
        } throws: { error in
            "\(error)".contains("team/app") && "\(error)".contains("nope")
        }
    }

    @Test func referrersComeFromTheAPIOrAreNilWhereTheRegistryHasNone() async throws {
        let registry = FakeRegistry()
        let (digest, _) = try Self.pushImage(to: registry)
        let reference = try ImageReference(parsing: "127.0.0.1:5000/team/app:1")
        let client = Self.client(registry)
        #expect(try await client.fetchReferrers(of: digest, in: reference) == nil)
        var bundle = Descriptor(mediaType: MediaType.ociManifest, digest: digest, size: 1)
        bundle.artifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
        registry.serveReferrers(Array(try JSONEncoder().encode(ImageIndex(manifests: [bundle]))), of: digest, in: "team/app")
        let index = try #require(try await client.fetchReferrers(of: digest, in: reference))
        #expect(index.manifests.map(\.artifactType) == ["application/vnd.dev.sigstore.bundle.v0.3+json"])
        #expect(registry.requests.filter { $0.method == .get }.map(\.target).last == "/v2/team/app/referrers/\(digest)")
        // A referrers answer that is no index is an error naming it, not "no referrers".
        registry.serveReferrers(Array("[1]".utf8), of: digest, in: "team/app")
        await #expect(throws: RegistryError.self) { try await client.fetchReferrers(of: digest, in: reference) }
    }
}
