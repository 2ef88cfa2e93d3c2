import ConfinedFilesystem
import Foundation
import OCILayout
import SystemErrors
import BlockingWork

/// Held while a command uses the cache (shared with other commands); ``ImageCache/prune(keeping:)``
/// and ``ImageCache/clear()`` need it alone, so they never take blobs from under a pull.
public final class CacheLease: Sendable {
    private let lock: FileLock

    init(lock: FileLock) { self.lock = lock }

    public func release() { lock.release() }
}

extension ImageCache {
    static let lockName = Array(".mbctl-lock".utf8)

    /// Takes a share of the cache for the time a command uses it (waits for a prune or clear).
    public func lease() async throws -> CacheLease {
        _ = try open()
        let path = absolutePath
        let lock = try await BlockingWork.run {
            let directory = try DirectoryHandle.open(path)
            return try naming("\(path)/.mbctl-lock") { try FileLock.acquire(Self.lockName, in: directory, shared: true) }
        }
        return CacheLease(lock: lock)
    }

    /// Holds the cache alone (no pull can use it) until the returned lock is released; an error
    /// when another mbctl uses it now. For a caller that prunes more than the cache.
    public func holdAlone() throws -> FileLock {
        let directory = try HostDirectory.open(absolutePath, mode: 0o700, privacy: .ownedByUser).handle
        return try alone(directory)
    }

    /// The cache alone, or an error when another mbctl uses it now.
    func alone(_ directory: DirectoryHandle) throws -> FileLock {
        guard let lock = try naming("\(absolutePath)/.mbctl-lock", { try FileLock.attempt(Self.lockName, in: directory) }) else {
            throw RefusedPath(path: absolutePath, reason: "another mbctl uses the cache now; try again when it is done")
        }
        return lock
    }

    /// An image the cache holds, as its index names it.
    public struct CachedImage: Sendable, Codable, Equatable {
        /// The names it was fetched by.
        public var references: [String]
        public var digest: String
        /// Bytes of its manifest, config and layers as stored (compressed).
        public var storedSize: Int64
        /// Whether all of its blobs are there.
        public var complete: Bool
        /// When it was last written to the cache.
        public var stored: Date?
    }

    /// The images of the cache's index.
    public func images() throws -> [CachedImage] {
        guard FileManager.default.fileExists(atPath: "\(absolutePath)/index.json") else { return [] }
        let layout = try ImageLayout.open(at: absolutePath)
        var byDigest: [Digest: CachedImage] = [:]
        for entry in try layout.index().manifests {
            var image = byDigest[entry.digest] ?? CachedImage(references: [], digest: entry.digest.description, storedSize: 0, complete: false, stored: nil)
            if let name = entry.referenceName { image.references.append(name) }
            if byDigest[entry.digest] == nil {
                let blobs = (try? ImageGraph.blobs(reachableFrom: entry, in: layout.store)) ?? [entry]
                image.storedSize = blobs.reduce(0) { $0 + $1.size }
                image.complete = blobs.allSatisfy { layout.store.contains($0.digest) }
                image.stored = (try? FileManager.default.attributesOfItem(atPath: layout.store.path(of: entry.digest)))?[.modificationDate] as? Date
            }
            byDigest[entry.digest] = image
        }
        return byDigest.values.sorted { $0.references.first ?? $0.digest < $1.references.first ?? $1.digest }
    }

    /// What a prune took away.
    public struct PruneResult: Sendable, Equatable {
        public var images = 0
        public var blobs = 0
        public var bytes: Int64 = 0
    }

    /// Removes every image but those of `keep` (manifest digests), and every blob none of the
    /// kept images needs, partial downloads included. The cache stays an image layout other
    /// tools read. Refused while another mbctl uses the cache.
    public func prune(keeping keep: Set<Digest>, alreadyAlone: Bool = false) throws -> PruneResult {
        guard FileManager.default.fileExists(atPath: "\(absolutePath)/index.json") else { return PruneResult() }
        let directory = try HostDirectory.open(absolutePath, mode: 0o700, privacy: .ownedByUser, create: false).handle
        let lock = alreadyAlone ? nil : try alone(directory)
        defer { lock?.release() }
        let layout = try ImageLayout.open(at: absolutePath)
        var result = PruneResult()
        let entries = try layout.index().manifests
        result.images = Set(entries.filter { !keep.contains($0.digest) }.map(\.digest)).count
        try layout.removeEntries { keep.contains($0.digest) }
        var needed = Set<Digest>()
        for digest in keep where layout.store.contains(digest) {
            let descriptor = Descriptor(mediaType: MediaType.ociManifest, digest: digest, size: Self.storedSize(digest, in: layout.store))
            for blob in (try? ImageGraph.blobs(reachableFrom: descriptor, in: layout.store)) ?? [descriptor] { needed.insert(blob.digest) }
        }
        let blobsPath = "\(absolutePath)/blobs/sha256"
        if let blobs = try? DirectoryHandle.open(blobsPath, allowingSymlink: false) {
            for name in try naming(blobsPath, { try blobs.entries() }) {
                guard let digest = try? Digest(parsing: "sha256:" + String(decoding: name, as: UTF8.self)), !needed.contains(digest) else { continue }
                let size = (try? blobs.status(of: name)).flatMap { $0 }.map { Int64($0.st_size) } ?? 0
                try naming("\(blobsPath)/\(digest.encoded)") { try blobs.removeTree(name) }
                result.blobs += 1
                result.bytes += size
            }
        }
        try naming("\(absolutePath)/.ingest") { try directory.removeTree(Array(".ingest".utf8)) }
        return result
    }

    static func storedSize(_ digest: Digest, in store: ContentStore) -> Int64 {
        var info = stat()
        return lstat(store.path(of: digest), &info) == 0 ? Int64(info.st_size) : 0
    }
}
