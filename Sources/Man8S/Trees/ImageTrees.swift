import ConfinedFilesystem
import Foundation
import ImageAccess
import LayerUnpacker
import OCILayout
import SystemErrors
import BlockingWork

/// Image trees: each image (manifest digest) unpacked once, with the unpacker's checks, into a
/// read-only tree beside the machines (`machines/.images/sha256-HEX`: a read-only btrfs
/// subvolume, or a directory), so that each machine's rootfs is a snapshot or reflink copy of
/// it instead of another unpack. On a file system that can do neither, there are no trees and
/// machines are unpacked as before.
struct ImageTrees {
    let directories: MachineDirectories
    let images: ImageAccess

    static let directoryName = Array(".images".utf8)
    static func treeName(_ digest: Digest) -> [UInt8] { Array("sha256-\(digest.encoded)".utf8) }

    var path: String { "\(directories.layout.machines)/.images" }

    /// The method this host's machines directory allows: `configured`, else the cheapest.
    static func method(for directories: MachineDirectories, configured: RootfsMethod?) throws -> RootfsMethod {
        let available: [RootfsMethod] =
            Btrfs.holds(directories.machines)
            ? [.snapshot, .reflink, .unpack]
            : try supportsReflinks(directories) ? [.reflink, .unpack] : [.unpack]
        guard let configured else { return available[0] }
        guard available.contains(configured) else {
            throw Man8SError.configuration(
                path: ConfigurationFile.defaultPath, line: 0,
                reason:
                    "rootfs = \"\(configured.rawValue)\" is not possible on the file system of \(directories.layout.machines) (it can do: \(available.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        return configured
    }

    /// Whether files in the machines directory can share data (tried on two scratch files).
    static func supportsReflinks(_ directories: MachineDirectories) throws -> Bool {
        let names = [Array(".reflink-probe-\(getpid())-a".utf8), Array(".reflink-probe-\(getpid())-b".utf8)]
        defer { for name in names { try? directories.machines.remove(name) } }
        let files = names.map { name in withCPath(name) { openat(directories.machines.fd, $0, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) } }
        defer { for file in files where file >= 0 { close(file) } }
        guard files.allSatisfy({ $0 >= 0 }) else { return false }
        try FileDescriptor.writeAll(files[0], Array(repeating: 0x6D, count: 4096), at: 0)
        return Reflink.clone(files[1], from: files[0])
    }

    /// The tree of `prepared`'s image, unpacked now when there is none (another mbctl unpacking
    /// the same image is waited for). Returns the tree, open, and what unpacking it did.
    func tree(
        for prepared: ImageAccess.PreparedImage, method: RootfsMethod,
        progress: TransferEventHandler?, layerApplied: ImageAccess.LayerApplied?
    ) async throws -> (DirectoryHandle, UnpackStatistics?) {
        let digest = prepared.image.manifestDescriptor.digest
        let name = Self.treeName(digest)
        let top = try naming(path) {
            _ = try directories.machines.makeDirectoryIfMissing(Self.directoryName, mode: 0o700)
            return try directories.machines.openDirectory(Self.directoryName)
        }
        let lockDirectory = try naming("\(directories.layout.machines)/.locks") {
            _ = try directories.machines.makeDirectoryIfMissing(MachineLock.directoryName, mode: 0o700)
            return try directories.machines.openDirectory(MachineLock.directoryName)
        }
        let lockPath = "\(directories.layout.machines)/.locks/image-sha256-\(digest.encoded).lock"
        let lock = try await BlockingWork.run {
            try naming(lockPath) { try FileLock.acquire(Array("image-sha256-\(digest.encoded).lock".utf8), in: lockDirectory) }
        }
        defer { lock.release() }
        if try naming(path, { try top.status(of: name) }) != nil {
            return (try naming("\(path)/sha256-\(digest.encoded)") { try top.openDirectory(name) }, nil)
        }
        let stagingName = Array(".sha256-\(digest.encoded).mbctl-\(UUID().uuidString.prefix(8))".utf8)
        let staging = "\(path)/\(String(decoding: stagingName, as: UTF8.self))"
        // On btrfs, the tree is a snapshot of the image's top layer chain (``LayerChains``).
        if method == .snapshot, !prepared.image.manifest.layers.isEmpty {
            let chains = LayerChains(directories: directories, images: images)
            let (chain, statistics) = try await chains.top(of: prepared, in: top, progress: progress, layerApplied: layerApplied)
            do {
                try naming(staging) { try Btrfs.snapshot(chain, as: stagingName, in: top, readOnly: true) }
                try chains.record(LayerChains.chainIDs(prepared.image.configuration.rootfs?.diffIDs ?? []), of: digest, in: top)
                try naming("\(path)/sha256-\(digest.encoded)") { try top.renameWithoutReplacing(stagingName, to: name) }
                return (try naming("\(path)/sha256-\(digest.encoded)") { try top.openDirectory(name) }, statistics)
            } catch {
                try? top.removeTree(stagingName)
                throw error
            }
        }
        do {
            try naming(staging) {
                if method == .snapshot {
                    try Btrfs.createSubvolume(stagingName, in: top)
                } else {
                    guard try top.makeDirectoryIfMissing(stagingName, mode: 0o755) else { throw SystemCallError(operation: "create", errno: EEXIST) }
                }
            }
            let result = try await images.populate(staging, with: prepared, progress: progress, layerApplied: layerApplied)
            let tree = try naming(staging) { try top.openDirectory(stagingName) }
            if method == .snapshot { try naming(staging) { try Btrfs.makeReadOnly(tree) } }
            try naming("\(path)/sha256-\(digest.encoded)") { try top.renameWithoutReplacing(stagingName, to: name) }
            return (tree, result.statistics)
        } catch {
            try? top.removeTree(stagingName)
            throw error
        }
    }

    /// Makes `name` in `parent` a writable copy of `tree`: a snapshot, or a reflink copy.
    static func copy(_ tree: DirectoryHandle, as name: [UInt8], in parent: DirectoryHandle, method: RootfsMethod, path: String) throws {
        try naming(path) {
            switch method {
            case .snapshot:
                try Btrfs.snapshot(tree, as: name, in: parent, readOnly: false)
            case .reflink, .unpack:
                guard try parent.makeDirectoryIfMissing(name, mode: 0o700) else { throw SystemCallError(operation: "create", errno: EEXIST) }
                let copy = try parent.openDirectory(name)
                _ = try TreeCopy.copyContents(of: tree, into: copy, mode: .clone) { _, _ in }
                try TreeCopy.copyAttributes(of: tree, to: copy)
            }
        }
    }
}
