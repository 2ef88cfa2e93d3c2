import ConfinedFilesystem
import Foundation
import ImageAccess
import LayerUnpacker
import OCILayout
import RegistryClient
import SystemErrors
import BlockingWork

/// `mbctl machines pull SRC NAME`: a Man8S machine from an image (docs/host-contract.md, section 3).
///
/// All or nothing: the rootfs is built in a hidden staging directory beside where it goes, every
/// file is written under a temporary name and renamed, and a failure or cancellation (Ctrl-C)
/// removes what this run created (``Rollback``). Configuration and data directories that exist
/// already (left by a removed machine) are the user's: they are reused, and nothing in them is
/// overwritten. One pull at a time per name (``MachineLock``); what a killed pull left is
/// removed by the next one for that name.
///
/// The image is hostile: its volume names are normalized (``VolumePath``), each volume's host
/// directory is a real directory mbctl makes beneath the machine's own configuration or data
/// directory, the seed data is read inside the rootfs and written only beneath that directory
/// (``TreeCopy``), and its `Env` cannot set mbctl's `MAN8S_` keys.
public struct MachinePull: Sendable {
    public var layout: HostLayout
    public var images: ImageAccess
    /// The machine template (`network_isolated`, the only one).
    public var template = "network_isolated"
    /// How machines' rootfses are made (`[machines] rootfs`); nil chooses the cheapest the
    /// file system allows (``ImageTrees``).
    public var rootfsMethod: RootfsMethod?
    /// This mbctl, for the unit drop-in that finishes an interrupted upgrade before a boot
    /// (``MachineUnitDropIn``); nil writes none.
    public var recovery: RecoveryCommand?

    public init(layout: HostLayout, images: ImageAccess) {
        self.layout = layout
        self.images = images
    }

    /// What a pull made.
    public struct Outcome: Sendable {
        public var name: MachineName
        public var address: YggdrasilAddress
        public var imageDigest: Digest
        /// How the rootfs was made.
        public var method: RootfsMethod
        public var volumes: [VolumeMapping]
        /// Configuration/data directories that existed before and were reused.
        public var reused: [String]
        /// A previous `man8env.env` kept aside, if there was one.
        public var previousEnvironmentFile: String?
        /// What the seed copies of the volumes made.
        public var seeded: TreeCopy.Statistics
        /// What the operator should know: image settings left out, leftovers removed, modes narrowed.
        public var warnings: [String]
    }

    /// Asks where a volume goes when no `--volume` answers it (nil: no terminal to ask on).
    public typealias VolumeQuestion = @Sendable (String) -> VolumeChoice?

    /// Makes machine `name` from the image at `source` (`imageText` as the user wrote it), its
    /// address taken from the host's yggdrasil `prefix`.
    public func pull(
        _ source: ImageLocation, as imageText: String, name: MachineName, prefix: IPv6Prefix,
        volumes answers: [String: VolumeChoice] = [:], ask: VolumeQuestion? = nil,
        progress: TransferEventHandler? = nil, layerApplied: ImageAccess.LayerApplied? = nil
    ) async throws -> Outcome {
        let address = YggdrasilAddress(machineName: name.value, prefix: prefix)
        let directories = try MachineDirectories.open(layout)
        let lock = try MachineLock.acquire(name, for: .make, in: directories)
        defer { lock.release() }
        // Image trees and cached blobs stay while this pull may use them (cache prune waits).
        let lease = try await ImageCache(path: layout.cache).lease()
        defer { lease.release() }
        var warnings = directories.notices
        warnings += try directories.removeLeftovers(of: name).map { "removed \($0), left by an mbctl that was killed" }
        try await lock.claim(address) { claims in try checkFree(name, address: address, prefix: prefix, in: directories, claimedByOthers: claims) }

        // The config first, so the volume questions come before the long download.
        let prepared = try await images.prepare(source, progress: progress)
        let runtime = prepared.image.configuration.config ?? ImageConfiguration.RuntimeSettings()
        let volumes = try decideVolumes(try Self.volumePaths(of: runtime), for: name, answers: answers, ask: ask)

        let rollback = Rollback()
        do {
            var outcome = try await build(
                prepared, imageText: imageText, name: name, address: address, volumes: volumes, in: directories,
                rollback: rollback, progress: progress, layerApplied: layerApplied)
            outcome.warnings = warnings + outcome.warnings
            return outcome
        } catch {
            rollback.undo()
            throw error
        }
    }

    private func build(
        _ prepared: ImageAccess.PreparedImage, imageText: String, name: MachineName, address: YggdrasilAddress,
        volumes: [VolumeMapping], in directories: MachineDirectories, rollback: Rollback,
        progress: TransferEventHandler?, layerApplied: ImageAccess.LayerApplied?
    ) async throws -> Outcome {
        let stagingName = MachineDirectories.stagingName(of: name, suffix: String(UUID().uuidString.prefix(8)))
        let staging = "\(layout.machines)/\(String(decoding: stagingName, as: UTF8.self))"
        let method = try await makeRootfs(stagingName, in: directories.machines, path: staging, from: prepared, directories: directories,
                                    rollback: rollback, progress: progress, layerApplied: layerApplied)
        let result = prepared.image
        try Task.checkCancellation()
        var definition = MachineDefinition(
            name: name, address: address, image: imageText, createdAt: Date(),
            runtime: result.configuration.config ?? ImageConfiguration.RuntimeSettings(),
            volumes: volumes, layout: layout)
        definition.template = template
        definition.imageDigest = result.manifestDescriptor.digest.description
        let nspawn = try NspawnFile.render(definition)
        let environment = try EnvironmentFile.render(definition, version: MbctlVersion.current)

        let (own, reused) = try openOwnDirectories(of: name, in: directories, rollback: rollback)
        let rootfs = try RootDirectory(path: staging)
        let seeded = try seed(volumes, from: rootfs, into: own, rollback: rollback)

        let previous = try keepAside(environmentIn: own.config, rollback: rollback)
        try naming(layout.environmentFile(of: name)) {
            try own.config.handle.writeFile(MachineDirectories.environmentFileName, contents: Array(environment.utf8), mode: 0o644)
        }
        rollback.created(MachineDirectories.environmentFileName, in: own.config.handle)

        try finishRootfs(staging)
        if let recovery {
            try MachineUnitDropIn.write(name, recovery: recovery, layout: layout, rollback: rollback)
        }
        let record = GenerationRecord(definition, number: 1, written: environment)
        try writeCurrentRecord(record, of: name, in: directories, rollback: rollback)
        try Task.checkCancellation()

        // Into place: the rootfs, then its nspawn file and the systemd link.
        let rootfsPath = layout.rootfs(of: name)
        try naming(rootfsPath) { try directories.machines.renameWithoutReplacing(stagingName, to: name.bytes) }
        rollback.created(name.bytes, in: directories.machines)
        try naming(layout.nspawnFile(of: name)) {
            try directories.nspawnFiles.writeFile(MachineDirectories.nspawnFileName(name), contents: Array(nspawn.utf8), mode: 0o644)
        }
        rollback.created(MachineDirectories.nspawnFileName(name), in: directories.nspawnFiles)
        try naming(layout.systemdLink(of: name)) { try directories.systemdMachines.makeSymlink(name.bytes, to: Array(rootfsPath.utf8)) }
        rollback.created(name.bytes, in: directories.systemdMachines)

        return Outcome(
            name: name, address: address, imageDigest: result.manifestDescriptor.digest, method: method,
            volumes: volumes, reused: reused, previousEnvironmentFile: previous, seeded: seeded,
            warnings: definition.droppedEnvironment)
    }

    /// Makes the rootfs `name` of `parent` from the prepared image: a snapshot or reflink copy of
    /// the image's tree (unpacked once), or the layers applied into it. Records it in `rollback`.
    func makeRootfs(
        _ name: [UInt8], in parent: DirectoryHandle, path: String, from prepared: ImageAccess.PreparedImage, directories: MachineDirectories,
        rollback: Rollback, progress: TransferEventHandler?, layerApplied: ImageAccess.LayerApplied?
    ) async throws -> RootfsMethod {
        let method = try ImageTrees.method(for: directories, configured: rootfsMethod)
        if method == .unpack {
            _ = try rollback.makeDirectory(name, in: parent, mode: 0o755, path: path)
            _ = try await images.populate(path, with: prepared, progress: progress, layerApplied: layerApplied)
            return method
        }
        let (tree, _) = try await ImageTrees(directories: directories, images: images).tree(for: prepared, method: method, progress: progress, layerApplied: layerApplied)
        try await BlockingWork.run { try ImageTrees.copy(tree, as: name, in: parent, method: method, path: path) }
        rollback.created(name, in: parent)
        return method
    }

    /// Makes every volume's host directory, then copies into each what the image holds there.
    ///
    /// All directories first, parents before children: a nested volume's directory is then a
    /// real directory before the outer volume's seed copy gets there, so the image cannot put a
    /// symlink in its place. A directory this run made gets the owner and mode of the image's.
    func seed(
        _ volumes: [VolumeMapping], from rootfs: RootDirectory, into own: OwnDirectories, rollback: Rollback
    ) throws -> TreeCopy.Statistics {
        var hostDirectories: [(VolumeMapping, DirectoryHandle, created: Bool)] = []
        for volume in volumes.sorted(by: { $0.containerPath < $1.containerPath }) {
            switch volume.choice {
            case .config, .data:
                let base = volume.choice == .config ? own.config : own.data
                let (directory, created) = try rollback.makeDirectories(volume.containerPath.entryPath, beneath: base.handle, mode: 0o755, basePath: base.path)
                hostDirectories.append((volume, directory, created))
            case .custom(let path):
                let parentPath = (path as NSString).deletingLastPathComponent
                let parent = try DirectoryHandle.open(parentPath)
                let name = Array((path as NSString).lastPathComponent.utf8)
                let (directory, created) = try rollback.makeDirectory(name, in: parent, mode: 0o700, path: path)
                guard created else { throw Man8SError.invalidVolume(path, reason: "a custom volume directory must not exist yet") }
                hostDirectories.append((volume, directory, true))
            case .skip:
                continue
            }
        }
        let rootInfo = try naming(rootfs.path) { try rootfs.status() }
        var total = TreeCopy.Statistics()
        for (volume, directory, created) in hostDirectories {
            let source: DirectoryHandle
            do {
                source = try rootfs.openDirectory(volume.containerPath.entryPath)
            } catch let error as SystemCallError where error.errno == ENOENT {
                continue  // Nothing in the image there: the volume starts empty.
            } catch let error as SystemCallError where error.errno == ENOTDIR {
                throw Man8SError.invalidVolume(volume.containerPath.description, reason: "the image has a file there, not a directory")
            }
            let sourceInfo = try naming(volume.containerPath.description) { try source.status() }
            guard sourceInfo.st_dev != rootInfo.st_dev || sourceInfo.st_ino != rootInfo.st_ino else {
                throw Man8SError.invalidVolume(volume.containerPath.description, reason: "it leads to the image's root directory (through a symlink)")
            }
            let copied = try naming(volume.hostPath) {
                let statistics = try TreeCopy.copyContents(of: source, into: directory) { parent, name in rollback.created(name, in: parent) }
                if created { try TreeCopy.copyAttributes(of: source, to: directory) }
                return statistics
            }
            total.add(copied)
        }
        return total
    }

    /// The machine's own configuration and data directories: private at the NAME level, the
    /// image's owners and modes apply only inside. Also returns those that existed already.
    func openOwnDirectories(of name: MachineName, in directories: MachineDirectories, rollback: Rollback) throws -> (OwnDirectories, reused: [String]) {
        var reused: [String] = []
        func ownDirectory(in parent: DirectoryHandle, _ parentPath: String) throws -> OwnDirectory {
            let path = "\(parentPath)/\(name)"
            let (directory, created) = try rollback.makeDirectory(name.bytes, in: parent, mode: 0o700, path: path)
            if !created {
                reused.append(path)
                try rollback.narrow(directory, to: 0o700, path: path)
            }
            return OwnDirectory(handle: directory, path: path)
        }
        let own = OwnDirectories(config: try ownDirectory(in: directories.configs, layout.configs), data: try ownDirectory(in: directories.storage, layout.storage))
        return (own, reused)
    }

    /// Installs the Man8S init into the rootfs at `path` and keeps its /run and /tmp aside.
    func finishRootfs(_ path: String) throws {
        let initSystem = InitSystem(hostBusybox: layout.busybox)
        let rootFilesystem = RootFilesystem(path: path)
        try initSystem.install(into: rootFilesystem)
        try initSystem.protectRunAndTmp(in: rootFilesystem)
    }

    /// Writes what mbctl knows of the new machine's generation (``MachineGenerations``).
    private func writeCurrentRecord(_ record: GenerationRecord, of name: MachineName, in directories: MachineDirectories, rollback: Rollback) throws {
        let top = "\(layout.machines)/.generations"
        _ = try naming(top) { try directories.machines.makeDirectoryIfMissing(MachineGenerations.directoryName, mode: 0o700) }
        let generations = try naming(top) { try directories.machines.openDirectory(MachineGenerations.directoryName) }
        let (mine, _) = try rollback.makeDirectory(name.bytes, in: generations, mode: 0o700, path: "\(top)/\(name)")
        try naming("\(top)/\(name)/current.json") { try mine.writeFile(MachineGenerations.currentRecord, contents: try record.encoded(), mode: 0o600) }
        rollback.created(MachineGenerations.currentRecord, in: mine)
    }

    /// Renames an existing `man8env.env` to `man8env.env.previous-TIMESTAMP`; returns its new path.
    private func keepAside(environmentIn directory: OwnDirectory, rollback: Rollback) throws -> String? {
        let name = MachineDirectories.environmentFileName
        guard try naming(directory.path, { try directory.handle.status(of: name) }) != nil else { return nil }
        let aside = name + Array(".previous-\(Self.timestamp())".utf8)
        try naming("\(directory.path)/man8env.env") { try directory.handle.renameWithoutReplacing(name, to: aside) }
        rollback.movedAside(name, to: aside, in: directory.handle)
        return "\(directory.path)/\(String(decoding: aside, as: UTF8.self))"
    }

    /// A machine's configuration or data directory, open.
    struct OwnDirectory {
        let handle: DirectoryHandle
        let path: String
    }

    struct OwnDirectories {
        let config: OwnDirectory
        let data: OwnDirectory
    }

    /// Refuses a name that is taken, or whose address another machine has or a pull in progress claims.
    func checkFree(
        _ name: MachineName, address: YggdrasilAddress, prefix: IPv6Prefix, in directories: MachineDirectories,
        claimedByOthers: [(name: String, address: String)]
    ) throws {
        if try directories.exists(name) { throw Man8SError.machineExists(name.value) }
        // Other machines' addresses as mbctl recorded them; one made before mbctl kept records
        // has the address its name gives in this prefix. Never what a machine wrote itself.
        for other in MachineList(layout: layout).names() where other != name.value {
            guard let otherName = try? MachineName(other) else { continue }
            let recorded = (try? directories.record(of: otherName))??.yggdrasilAddress
            if (recorded ?? YggdrasilAddress(machineName: other, prefix: prefix)) == address {
                throw Man8SError.addressCollision(name: name.value, address: address.description, other: other)
            }
        }
        if let claim = claimedByOthers.first(where: { $0.address == address.description }) {
            throw Man8SError.addressCollision(name: name.value, address: address.description, other: claim.name)
        }
    }

    /// The image's volumes, normalized, each once.
    static func volumePaths(of runtime: ImageConfiguration.RuntimeSettings) throws -> [VolumePath] {
        var paths = Set<VolumePath>()
        for key in (runtime.volumes ?? [:]).keys {
            do {
                paths.insert(try VolumePath(key))
            } catch let error as Man8SError {
                throw Man8SError.invalidImageVolume(cause: ErrorCause(error))
            }
        }
        return paths.sorted()
    }

    /// Each volume's host directory, from the flags or by asking.
    func decideVolumes(_ paths: [VolumePath], for name: MachineName, answers: [String: VolumeChoice], ask: VolumeQuestion?) throws -> [VolumeMapping] {
        var normalizedAnswers: [VolumePath: VolumeChoice] = [:]
        for (text, choice) in answers {
            let path = try VolumePath(text)
            guard paths.contains(path) else {
                throw Man8SError.invalidVolume(text, reason: "the image has no such volume (it has: \(paths.isEmpty ? "none" : paths.map(\.description).joined(separator: ", ")))")
            }
            normalizedAnswers[path] = choice
        }
        var mappings: [VolumeMapping] = []
        for path in paths {
            guard let choice = normalizedAnswers[path] ?? ask?(path.description) else { throw Man8SError.volumeUnanswered(path.description) }
            let relative = path.components.joined(separator: "/")
            switch choice {
            case .config: mappings.append(VolumeMapping(containerPath: path, choice: choice, hostPath: "\(layout.configDirectory(of: name))/\(relative)"))
            case .data: mappings.append(VolumeMapping(containerPath: path, choice: choice, hostPath: "\(layout.dataDirectory(of: name))/\(relative)"))
            case .skip: continue
            case .custom(let host):
                guard host.hasPrefix("/"), !host.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }), host != "/" else {
                    throw Man8SError.invalidVolume(host, reason: "a custom volume directory must be an absolute path without . or ..")
                }
                guard !FileManager.default.fileExists(atPath: host) else {
                    throw Man8SError.invalidVolume(host, reason: "a custom volume directory must not exist yet")
                }
                mappings.append(VolumeMapping(containerPath: path, choice: choice, hostPath: host))
            }
        }
        return mappings
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date())
    }
}
