import Foundation
import ImageAccess
import OCILayout
import RegistryClient

/// `mbctl oci sync`: copies every image a source names into a destination registry (or
/// directory of OCI layouts), as `skopeo sync` does: a tag already at the same digest there is
/// skipped with one manifest request and nothing uploaded; the others are copied with
/// ``ImageAccess/copy(from:to:allPlatforms:signatures:progress:)`` (each blob verified, the
/// source's signatures taken along under the signature policy).
///
/// Where an image goes: `DEST/NAME:TAG`, NAME being the last part of its repository, or with
/// `scoped` its whole name with the registry (`DEST/registry.example.com/team/app:TAG`); an
/// image of an OCI layout `DIR` is `DEST/basename(DIR):TAG`.
public struct ImageSync: Sendable {
    /// Fetches, pushes, checks signatures; for the destination and every source but those an
    /// image list sets options for.
    public var access: ImageAccess
    public var allPlatforms = false
    public var scoped = false
    /// Go on after an image fails (and exit non-zero at the end).
    public var keepGoing = false
    public var signatures = CopySignatures()

    public init(access: ImageAccess) {
        self.access = access
    }

    public enum Source: Sendable {
        /// skopeo sync's YAML list.
        case list(SyncImageList)
        /// A repository (every tag) or one image of a registry.
        case repository(String)
        /// Every tag of an OCI image layout.
        case layout(String)
    }

    public enum Destination: String, Sendable {
        case docker, oci
    }

    /// One image to bring across.
    public struct Item: Sendable {
        public var source: ImageLocation
        public var destination: ImageLocation
        /// The options it is fetched with (an image list's for its registry).
        var access: ImageAccess
    }

    /// The images `source` names now (asking registries for their tags), with where each goes.
    public func items(from source: Source, to destination: String, kind: Destination, progress: TransferEventHandler? = nil) async throws -> [Item] {
        func target(_ suffix: String, tag: String) throws -> ImageLocation {
            let base = destination.hasSuffix("/") ? String(destination.dropLast()) : destination
            switch kind {
            case .docker: return .registry(try ImageReference(parsing: "\(base)/\(suffix):\(tag)"))
            case .oci: return .layout(path: "\(base)/\(suffix)", tag: tag)
            }
        }
        func suffix(of reference: ImageReference) -> String {
            scoped ? "\(reference.registry)/\(reference.repository)" : String(reference.repository.split(separator: "/").last ?? "")
        }
        func repositoryItems(_ repository: ImageReference, tags: [String], access: ImageAccess) throws -> [Item] {
            try tags.map { tag in
                let image = try ImageReference(parsing: "\(repository.registry)/\(repository.repository):\(tag)")
                return Item(source: .registry(image), destination: try target(suffix(of: image), tag: tag), access: access)
            }
        }
        switch source {
        case .repository(let text):
            let reference = try ImageReference(parsing: text.hasPrefix("docker://") ? String(text.dropFirst("docker://".count)) : text)
            if reference.digest != nil {
                throw SyncError.invalidSource(text, reason: "a digest names no tag to sync to; name a tag or the repository")
            }
            let named = text.split(separator: "/").last.map { $0.contains(":") } ?? false
            let tags = named ? [reference.tag ?? "latest"] : try await client(access).listTags(reference, progress: progress)
            return try repositoryItems(reference, tags: tags, access: access)
        case .layout(let directory):
            let layout = try ImageLayout.open(at: directory)
            let name = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
            return try layout.tags().map { tag in
                Item(source: .layout(path: directory, tag: tag), destination: try target(name, tag: tag), access: access)
            }
        case .list(let list):
            var items: [Item] = []
            for registry in list.registries {
                let access = self.access(for: registry)
                let client = try client(access)
                for (repository, tags) in registry.images {
                    let reference = try ImageReference(parsing: "\(registry.host)/\(repository)")
                    let chosen = tags.isEmpty ? try await client.listTags(reference, progress: progress) : tags
                    items += try repositoryItems(reference, tags: chosen, access: access)
                }
                for (repository, pattern) in registry.tagPatterns {
                    let reference = try ImageReference(parsing: "\(registry.host)/\(repository)")
                    let regex = try Regex(pattern)
                    let tags = try await client.listTags(reference, progress: progress).filter { (try? regex.firstMatch(in: $0)) != nil }
                    items += try repositoryItems(reference, tags: tags, access: access)
                }
                for (repository, constraint) in registry.versionRanges {
                    let reference = try ImageReference(parsing: "\(registry.host)/\(repository)")
                    let tags = try await client.listTags(reference, progress: progress).filter(constraint.matches(tag:))
                    items += try repositoryItems(reference, tags: tags, access: access)
                }
            }
            return items
        }
    }

    /// The options of `access` with an image list's for `registry`: its credentials, TLS check
    /// and certificate directory, for that registry only.
    func access(for registry: SyncImageList.Registry) -> ImageAccess {
        var access = self.access
        if let credentials = registry.credentials { access.registry.credentials.perRegistry[registry.host] = credentials }
        if registry.tlsVerify == false { access.registry.registries.markInsecure(registry.host) }
        if let directory = registry.certDirectory { access.registry.transport.registryCertificateDirectories[registry.host] = directory }
        return access
    }

    private func client(_ access: ImageAccess) throws -> RegistryClient { try RegistryClient(configuration: access.registry) }

    /// What became of one image.
    public enum Outcome: Sendable, Equatable {
        case copied(Digest)
        /// At the same digest in the destination already.
        case skipped(Digest)
        case failed(String)
    }

    public typealias Report = @Sendable (_ item: Item, _ outcome: Outcome) -> Void

    /// Brings `items` across in order. Without ``keepGoing``, the first failure ends the run
    /// (thrown); with it, every image is tried and the failures are in the outcomes.
    public func run(_ items: [Item], progress: TransferEventHandler? = nil, report: Report) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for item in items {
            try Task.checkCancellation()
            let outcome: Outcome
            do {
                outcome = try await bring(item, progress: progress)
            } catch let error as CancellationError {
                throw error
            } catch {
                guard keepGoing else { throw error }
                outcome = .failed("\(error)")
            }
            report(item, outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    private func bring(_ item: Item, progress: TransferEventHandler?) async throws -> Outcome {
        let wanted = try await item.access.currentDigest(of: item.source, allPlatforms: allPlatforms)
        if try await destinationDigest(item.destination) == wanted { return .skipped(wanted) }
        let result = try await item.access.copy(from: item.source, to: item.destination, allPlatforms: allPlatforms, signatures: signatures, progress: progress)
        return .copied(result.root.digest)
    }

    /// The digest `destination` names now; nil when it names nothing.
    func destinationDigest(_ destination: ImageLocation) async throws -> Digest? {
        switch destination {
        case .registry(let reference):
            return try await client(access).manifestDigest(reference)
        case .layout(let path, let tag):
            guard FileManager.default.fileExists(atPath: "\(path)/index.json"), let tag else { return nil }
            let layout = try ImageLayout.open(at: path)
            guard try layout.tags().contains(tag) else { return nil }
            return try layout.resolve(tag: tag).digest
        default:
            return nil
        }
    }
}
