import ConfinedFilesystem
import Foundation
import ImageAccess
import OCILayout
import SystemErrors

/// `mbctl cache list` and `cache prune`: the images of the cache and the image trees beside the
/// machines, with the machines that use them.
public struct ImageCacheInventory: Sendable {
    public var layout: HostLayout

    public init(layout: HostLayout) {
        self.layout = layout
    }

    public struct Entry: Sendable, Codable, Equatable {
        public var references: [String]
        public var digest: String
        /// Bytes of its blobs in the cache (compressed); nil when the cache has none of it.
        public var storedSize: Int64?
        /// Bytes of its files once unpacked, where it has a tree.
        public var unpackedSize: Int64?
        public var tree: Bool
        /// Machines whose current or kept generation is this image.
        public var machines: [String]
        /// When a machine was last made from it, or it was last stored.
        public var lastUsed: Date?
        /// The layer chains its tree is made of, bottom first (btrfs; nil elsewhere).
        public var chains: [String]?
    }

    /// Every image of the cache, and every tree, with who uses it.
    public func list() throws -> [Entry] {
        let usage = try machineUsage()
        var entries: [String: Entry] = [:]
        for image in try ImageCache(path: layout.cache).images() {
            entries[image.digest] = Entry(
                references: image.references, digest: image.digest, storedSize: image.storedSize, unpackedSize: nil, tree: false,
                machines: [], lastUsed: image.stored)
        }
        for (digest, tree) in trees() {
            var entry =
                entries[digest.description]
                ?? Entry(references: [], digest: digest.description, storedSize: nil, unpackedSize: nil, tree: true, machines: [], lastUsed: nil)
            entry.tree = true
            entry.unpackedSize = Self.size(of: tree)
            entries[digest.description] = entry
        }
        if let directories = try? MachineDirectories.openExisting(layout), let top = try? directories.machines.openDirectory(ImageTrees.directoryName) {
            for (digest, chains) in LayerChains.records(in: top) {
                entries[digest.description]?.chains = chains.map(\.description)
            }
        }
        for (digest, users) in usage {
            var entry =
                entries[digest.description]
                ?? Entry(references: [], digest: digest.description, storedSize: nil, unpackedSize: nil, tree: false, machines: [], lastUsed: nil)
            entry.machines = users.map(\.name).sorted()
            entry.lastUsed = ([entry.lastUsed] + users.map(\.since)).compactMap { $0 }.max()
            entries[digest.description] = entry
        }
        return entries.values.sorted { ($0.references.first ?? $0.digest) < ($1.references.first ?? $1.digest) }
    }

    /// What `prune` took away.
    public struct PruneResult: Sendable {
        public var cache: ImageCache.PruneResult
        public var trees: Int
        /// Layer chains no kept tree needs (btrfs).
        public var chains: Int
        public var kept: Int
    }

    /// Removes the cache's images and blobs, and the trees, that no machine uses (its current or
    /// a kept generation). Refused while another mbctl uses the cache (a pull holds it).
    public func prune() throws -> PruneResult {
        let cache = ImageCache(path: layout.cache)
        // Alone with the cache (no pull runs) while the trees are pruned too.
        let hold = try cache.holdAlone()
        defer { hold.release() }
        let used = Set(try machineUsage().keys)
        let result = try cache.prune(keeping: used, alreadyAlone: true)
        var removedTrees = 0, removedChains = 0
        if let directories = try MachineDirectories.openExisting(layout), let top = try? directories.machines.openDirectory(ImageTrees.directoryName) {
            removedChains = try LayerChains.prune(keepingTreesOf: used, in: top, path: "\(layout.machines)/.images/chains")
            for name in try naming("\(layout.machines)/.images", { try top.entries() }) where name != LayerChains.directoryName {
                let text = String(decoding: name, as: UTF8.self)
                let digest = text.hasPrefix("sha256-") ? try? Digest(parsing: "sha256:" + text.dropFirst(7)) : nil
                if let digest, used.contains(digest) { continue }
                try naming("\(layout.machines)/.images/\(text)") { try top.removeTree(name) }
                if digest != nil { removedTrees += 1 }
            }
        }
        return PruneResult(cache: result, trees: removedTrees, chains: removedChains, kept: used.count)
    }

    /// The image trees, by digest.
    func trees() -> [(Digest, DirectoryHandle)] {
        guard let directories = try? MachineDirectories.openExisting(layout), let top = try? directories.machines.openDirectory(ImageTrees.directoryName),
            let names = try? top.entries()
        else { return [] }
        return names.compactMap { name in
            let text = String(decoding: name, as: UTF8.self)
            guard text.hasPrefix("sha256-"), let digest = try? Digest(parsing: "sha256:" + text.dropFirst(7)), let tree = try? top.openDirectory(name) else {
                return nil
            }
            return (digest, tree)
        }
    }

    /// Which machines use which image (manifest digest), and since when.
    func machineUsage() throws -> [Digest: [(name: String, since: Date?)]] {
        guard let directories = try MachineDirectories.openExisting(layout) else { return [:] }
        var usage: [Digest: [(name: String, since: Date?)]] = [:]
        for name in MachineList(layout: layout).names() {
            guard let machine = try? MachineName(name) else { continue }
            let generations = try MachineGenerations.open(machine, in: directories, create: false)
            // A damaged record stops the inventory (naming it): prune must not guess what is in use.
            let current = try generations?.current()
            var records: [(String?, Date?)] = [(current?.digest, current?.createdAt)]
            for number in (try? generations?.previous()) ?? [] {
                let record = generations?.record(of: number)
                records.append((record?.digest, record?.createdAt))
            }
            for (text, since) in records {
                guard let text, let digest = try? Digest(parsing: text) else { continue }
                usage[digest, default: []].append((name, since))
            }
        }
        return usage
    }

    /// Bytes of the regular files of a tree (their logical sizes).
    static func size(of tree: DirectoryHandle) -> Int64 {
        var total: Int64 = 0
        func walk(_ directory: DirectoryHandle) {
            for name in (try? directory.entries()) ?? [] {
                guard let info = try? directory.status(of: name) else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFREG: total += Int64(info.st_size)
                case S_IFDIR: if let child = try? directory.openDirectory(name) { walk(child) }
                default: break
                }
            }
        }
        walk(tree)
        return total
    }
}
