import BlockingWork
import ConfinedFilesystem
import Foundation
import ImageAccess
import LayerUnpacker
import OCILayout
import Synchronization
import SystemErrors

/// Layer chains on btrfs: the tree of an image's layers 1…N, keyed by their chain ID (the OCI
/// image spec's: the digest of the chain below and the layer's diff_id), as a read-only
/// subvolume `machines/.images/chains/sha256-CHAIN`. Chain N is a snapshot of chain N-1 with
/// layer N applied (the same streaming, checked apply as a whole image), so an image whose lower
/// layers another image has already is made by applying only its own, and images on one base
/// share the base's extents. An image's tree is a read-only snapshot of its top chain.
///
/// A chain is made under its own lock, in a staging subvolume that is renamed into place only
/// once its layer's digests have checked: a killed pull leaves a staging subvolume, which the
/// next pull for that chain removes and never uses. Which chains an image tree was made of is
/// written beside them (`image-sha256-DIGEST`), so that `cache prune` keeps what kept trees need.
struct LayerChains {
    let directories: MachineDirectories
    let images: ImageAccess

    static let directoryName = Array("chains".utf8)
    static func chainName(_ chain: Digest) -> [UInt8] { Array("sha256-\(chain.encoded)".utf8) }
    static func recordName(_ image: Digest) -> [UInt8] { Array("image-sha256-\(image.encoded)".utf8) }

    var path: String { "\(directories.layout.machines)/.images/chains" }

    /// The chain IDs of layers with `diffIDs`, bottom first.
    static func chainIDs(_ diffIDs: [Digest]) -> [Digest] {
        var chains: [Digest] = []
        for diffID in diffIDs {
            chains.append(chains.last.map { Digest.sha256(of: Data("\($0) \(diffID)".utf8)) } ?? diffID)
        }
        return chains
    }

    /// The chains directory, made when missing.
    func open(in images: DirectoryHandle) throws -> DirectoryHandle {
        try naming(path) {
            _ = try images.makeDirectoryIfMissing(Self.directoryName, mode: 0o700)
            return try images.openDirectory(Self.directoryName)
        }
    }

    /// The top chain of `prepared`'s image, made now from the highest chain there is, one layer
    /// at a time (a chain another pull makes meanwhile is waited for and used). Returns it, open,
    /// with what applying did (nil when every chain was there).
    func top(
        of prepared: ImageAccess.PreparedImage, in imagesDirectory: DirectoryHandle, progress: TransferEventHandler?,
        layerApplied: ImageAccess.LayerApplied?
    ) async throws -> (DirectoryHandle, UnpackStatistics?) {
        let diffIDs = prepared.image.configuration.rootfs?.diffIDs ?? []
        guard diffIDs.count == prepared.image.manifest.layers.count, !diffIDs.isEmpty else {
            throw ImageAccessError.invalidImage(reason: "the config lists \(diffIDs.count) diff_ids for \(prepared.image.manifest.layers.count) layers")
        }
        let chains = Self.chainIDs(diffIDs)
        let top = try open(in: imagesDirectory)
        func exists(_ index: Int) throws -> Bool { try naming(path) { try top.status(of: Self.chainName(chains[index])) } != nil }
        func firstMissing() throws -> Int {
            var index = chains.count
            while index > 0, !(try exists(index - 1)) { index -= 1 }
            return index
        }
        let missingFrom = try firstMissing()
        if missingFrom == chains.count { return (try naming(path) { try top.openDirectory(Self.chainName(chains[chains.count - 1])) }, nil) }

        // The locks of the chains to make, in chain order (every pull takes them in that order).
        let lockDirectory = try naming("\(directories.layout.machines)/.locks") {
            _ = try directories.machines.makeDirectoryIfMissing(MachineLock.directoryName, mode: 0o700)
            return try directories.machines.openDirectory(MachineLock.directoryName)
        }
        let lockNames = chains[missingFrom...].map { Array("chain-sha256-\($0.encoded).lock".utf8) }
        let locks = try await BlockingWork.run {
            try lockNames.map { name in try naming("\(directories.layout.machines)/.locks") { try FileLock.acquire(name, in: lockDirectory) } }
        }
        defer { locks.forEach { $0.release() } }
        // Another pull may have made some meanwhile; what a killed one left is removed.
        let first = try firstMissing()
        try removeStaging(of: Array(chains[first...]), in: top)
        if first == chains.count { return (try naming(path) { try top.openDirectory(Self.chainName(chains[chains.count - 1])) }, nil) }

        let staging = Mutex<[Int: [UInt8]]>([:])
        let chainPath = path
        let placement = ImageAccess.LayerPlacement(
            first: first,
            root: { index in
                let name = Array(".sha256-\(chains[index].encoded).mbctl-\(UUID().uuidString.prefix(8))".utf8)
                try naming("\(chainPath)/\(String(decoding: name, as: UTF8.self))") {
                    if index == 0 {
                        try Btrfs.createSubvolume(name, in: top)
                    } else {
                        try Btrfs.snapshot(try top.openDirectory(Self.chainName(chains[index - 1])), as: name, in: top, readOnly: false)
                    }
                }
                staging.withLock { $0[index] = name }
                return "\(chainPath)/\(String(decoding: name, as: UTF8.self))"
            },
            finished: { index in
                guard let name = staging.withLock({ $0[index] }) else { return }
                try naming("\(chainPath)/sha256-\(chains[index].encoded)") {
                    try Btrfs.makeReadOnly(try top.openDirectory(name))
                    try top.renameWithoutReplacing(name, to: Self.chainName(chains[index]))
                }
                _ = staging.withLock { $0.removeValue(forKey: index) }
            })
        do {
            let result = try await images.apply(prepared, placing: placement, progress: progress, layerApplied: layerApplied)
            return (try naming(path) { try top.openDirectory(Self.chainName(chains[chains.count - 1])) }, result.statistics)
        } catch {
            for name in staging.withLock({ Array($0.values) }) { try? top.removeTree(name) }
            throw error
        }
    }

    /// Removes staging subvolumes of `chains` (only for a caller holding their locks).
    private func removeStaging(of chains: [Digest], in top: DirectoryHandle) throws {
        let prefixes = chains.map { Array(".sha256-\($0.encoded).mbctl-".utf8) }
        for entry in try naming(path, { try top.entries() }) where prefixes.contains(where: { entry.starts(with: $0) }) {
            try naming("\(path)/\(String(decoding: entry, as: UTF8.self))") { try top.removeTree(entry) }
        }
    }

    /// Writes which chains the tree of image `digest` is made of.
    func record(_ chains: [Digest], of digest: Digest, in imagesDirectory: DirectoryHandle) throws {
        let top = try open(in: imagesDirectory)
        let text = chains.map(\.description).joined(separator: "\n") + "\n"
        try naming("\(path)/image-sha256-\(digest.encoded)") { try top.writeFile(Self.recordName(digest), contents: Array(text.utf8), mode: 0o600) }
    }

    /// The chains each image tree is made of, by image digest (records that do not read are
    /// left out; they are mbctl's own, in the private machines directory).
    static func records(in imagesDirectory: DirectoryHandle) -> [Digest: [Digest]] {
        guard let top = try? imagesDirectory.openDirectory(directoryName), let entries = try? top.entries() else { return [:] }
        var records: [Digest: [Digest]] = [:]
        for entry in entries where entry.starts(with: Array("image-sha256-".utf8)) {
            let text = String(decoding: entry.dropFirst("image-sha256-".count), as: UTF8.self)
            guard let digest = try? Digest(parsing: "sha256:" + text), let bytes = try? top.readFile(entry, limit: 1 << 20) else { continue }
            records[digest] = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { try? Digest(parsing: String($0)) }
        }
        return records
    }

    /// Removes every chain no tree of `kept` images needs, and the records of the others; the
    /// number of chains removed. For `cache prune`, alone with the cache.
    static func prune(keepingTreesOf kept: Set<Digest>, in imagesDirectory: DirectoryHandle, path: String) throws -> Int {
        guard let top = try? imagesDirectory.openDirectory(directoryName) else { return 0 }
        let records = Self.records(in: imagesDirectory)
        let needed = Set(records.filter { kept.contains($0.key) }.values.flatMap { $0.map(chainName) })
        let keptRecords = Set(records.keys.filter(kept.contains).map(recordName))
        let entries = try naming(path) { try top.entries() }
        for entry in entries where entry.starts(with: Array("image-sha256-".utf8)) && !keptRecords.contains(entry) {
            try naming("\(path)/\(String(decoding: entry, as: UTF8.self))") { try top.remove(entry) }
        }
        var removed = 0
        for entry in entries where !entry.starts(with: Array("image-sha256-".utf8)) && !needed.contains(entry) {
            // Staging chains of a pull that runs cannot be here: prune runs alone with the cache.
            try naming("\(path)/\(String(decoding: entry, as: UTF8.self))") { try top.removeTree(entry) }
            if entry.starts(with: Array("sha256-".utf8)) { removed += 1 }
        }
        if try naming(path, { try top.entries() }).isEmpty { try naming(path) { try imagesDirectory.removeTree(directoryName) } }
        return removed
    }
}
