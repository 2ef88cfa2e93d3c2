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
/// removes what this run created (``UndoLog``). Configuration and data directories that exist
/// already (left by a removed machine) are the user's: they are reused, and nothing in them is
/// overwritten. One pull at a time per name (``MachineLock``); what a killed pull left is
/// removed by the next one for that name.
///
/// The image is hostile: its volume names are normalized (``VolumePath``), each volume's host
/// directory is a real directory mbctl makes beneath the machine's own configuration or data
/// directory, the seed data is read inside the rootfs and written only beneath that directory
/// (``TreeCopy``), and its `Env` cannot set mbctl's `MAN8S_` keys.
public struct MachinePull: Sendable {
    public var build: MachineBuild
    /// This mbctl, for the unit drop-in that finishes an interrupted upgrade before a boot
    /// (``MachineUnitDropIn``); nil writes none.
    public var recovery: RecoveryCommand?
    /// The machine's service settings (ports, requirements, limits).
    public var settings = MachineSettings()
    /// Whether the layout is the running host's, whose forwarding and bridge a published port
    /// needs (false for a tree prepared with `--root`).
    public var checksHost = true

    public init(build: MachineBuild) {
        self.build = build
    }

    var layout: HostLayout { build.layout }

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
        try SettingsCheck(directories: directories, checksHost: checksHost).check(settings, for: name, publishingNew: !settings.ports.isEmpty)

        // The config first, so the volume questions come before the long download.
        let prepared = try await build.images.prepare(source, progress: progress)
        let runtime = prepared.image.configuration.config ?? ImageConfiguration.RuntimeSettings()
        let volumes = try build.decideVolumes(try MachineBuild.volumePaths(of: runtime), for: name, answers: answers, ask: ask)

        let undo = UndoLog()
        do {
            var outcome = try await make(
                prepared, imageText: imageText, name: name, address: address, volumes: volumes, in: directories,
                undo: undo, progress: progress, layerApplied: layerApplied)
            outcome.warnings = warnings + outcome.warnings
            return outcome
        } catch {
            undo.revert()
            throw error
        }
    }

    private func make(
        _ prepared: ImageAccess.PreparedImage, imageText: String, name: MachineName, address: YggdrasilAddress,
        volumes: [VolumeMapping], in directories: MachineDirectories, undo: UndoLog,
        progress: TransferEventHandler?, layerApplied: ImageAccess.LayerApplied?
    ) async throws -> Outcome {
        let stagingName = MachineDirectories.stagingName(of: name, suffix: String(UUID().uuidString.prefix(8)))
        let staging = "\(layout.machines)/\(String(decoding: stagingName, as: UTF8.self))"
        var definition = MachineDefinition(
            name: name, address: address, image: imageText, createdAt: Date(),
            runtime: prepared.image.configuration.config ?? ImageConfiguration.RuntimeSettings(),
            volumes: volumes, layout: layout)
        definition.template = build.template
        definition.imageDigest = prepared.image.manifestDescriptor.digest.description
        let generation = try await build.build(
            prepared, definition: definition, number: 1,
            into: MachineBuild.RootfsPlace(parent: directories.machines, name: stagingName, path: staging),
            seeding: volumes, directories: directories, undo: undo, progress: progress, layerApplied: layerApplied)

        let config = generation.own.config
        let previous = try keepAside(environmentIn: config, undo: undo)
        try naming(layout.environmentFile(of: name)) {
            // The operator's lines (machines apply's env) after mbctl's, so that they win.
            let environment =
                settings.environment.isEmpty
                ? generation.environmentFile : EnvironmentFile.setting(settings.environment, removing: [], in: generation.environmentFile)
            try config.handle.writeFile(MachineDirectories.environmentFileName, contents: Array(environment.utf8), mode: 0o644)
        }
        undo.created(MachineDirectories.environmentFileName, in: config.handle)
        try writeCurrentRecord(generation.record, of: name, in: directories, undo: undo)
        if recovery != nil || !settings.isEmpty {
            try MachineUnitDropIn.write(name, recovery: recovery, settings: settings, layout: layout, undo: undo)
        }
        try Task.checkCancellation()

        // Into place: the rootfs, then its nspawn file and the systemd link.
        let rootfsPath = layout.rootfs(of: name)
        try naming(rootfsPath) { try directories.machines.renameWithoutReplacing(stagingName, to: name.bytes) }
        undo.created(name.bytes, in: directories.machines)
        try naming(layout.nspawnFile(of: name)) {
            let nspawnFile = try NspawnFile.serving(settings, of: name, layout: layout, in: generation.nspawnFile)
            try directories.nspawnFiles.writeFile(MachineDirectories.nspawnFileName(name), contents: Array(nspawnFile.utf8), mode: 0o644)
        }
        undo.created(MachineDirectories.nspawnFileName(name), in: directories.nspawnFiles)
        try naming(layout.systemdLink(of: name)) { try directories.systemdMachines.makeSymlink(name.bytes, to: Array(rootfsPath.utf8)) }
        undo.created(name.bytes, in: directories.systemdMachines)
        // Last: the other machines learn its name once it is whole.
        let unnamed = try MachineNameFiles(directories: directories).refresh(for: name)

        return Outcome(
            name: name, address: address, imageDigest: prepared.image.manifestDescriptor.digest, method: generation.method,
            volumes: volumes, reused: generation.reused, previousEnvironmentFile: previous, seeded: generation.seeded,
            warnings: definition.droppedEnvironment + unnamed)
    }

    /// Writes what mbctl knows of the new machine's generation (``MachineGenerations``).
    private func writeCurrentRecord(_ record: GenerationRecord, of name: MachineName, in directories: MachineDirectories, undo: UndoLog) throws {
        let top = "\(layout.machines)/.generations"
        _ = try naming(top) { try directories.machines.makeDirectoryIfMissing(MachineGenerations.directoryName, mode: 0o700) }
        let generations = try naming(top) { try directories.machines.openDirectory(MachineGenerations.directoryName) }
        let (mine, _) = try undo.makeDirectory(name.bytes, in: generations, mode: 0o700, path: "\(top)/\(name)")
        try naming("\(top)/\(name)/current.json") { try mine.writeFile(MachineGenerations.currentRecord, contents: try record.encoded(), mode: 0o600) }
        undo.created(MachineGenerations.currentRecord, in: mine)
        if !settings.isEmpty {
            try naming("\(top)/\(name)/settings.json") { try mine.writeFile(MachineSettings.fileName, contents: try settings.encoded(), mode: 0o600) }
            undo.created(MachineSettings.fileName, in: mine)
        }
    }

    /// Renames an existing `man8env.env` to `man8env.env.previous-TIMESTAMP`; returns its new path.
    private func keepAside(environmentIn directory: MachineBuild.OwnDirectory, undo: UndoLog) throws -> String? {
        let name = MachineDirectories.environmentFileName
        guard try naming(directory.path, { try directory.handle.status(of: name) }) != nil else { return nil }
        let aside = name + Array(".previous-\(Self.timestamp())".utf8)
        try naming("\(directory.path)/man8env.env") { try directory.handle.renameWithoutReplacing(name, to: aside) }
        undo.movedAside(name, to: aside, in: directory.handle)
        return "\(directory.path)/\(String(decoding: aside, as: UTF8.self))"
    }

    /// Refuses a name that is taken, or whose address another machine has or a pull in progress claims.
    func checkFree(
        _ name: MachineName, address: YggdrasilAddress, prefix: IPv6Prefix, in directories: MachineDirectories,
        claimedByOthers: [(name: String, address: String)]
    ) throws {
        if try directories.exists(name) { throw Man8SError.machineExists(name.value) }
        // Other machines' addresses as mbctl recorded them; one made before mbctl kept records
        // has the address its name gives in this prefix. Never what a machine wrote itself. A
        // damaged record stops the pull, naming it: the address it held cannot be guessed.
        for other in MachineList(layout: layout).names() where other != name.value {
            guard let otherName = try? MachineName(other) else { continue }
            let recorded = try directories.record(of: otherName)?.yggdrasilAddress
            if (recorded ?? YggdrasilAddress(machineName: other, prefix: prefix)) == address {
                throw Man8SError.addressCollision(name: name.value, address: address.description, other: other)
            }
        }
        if let claim = claimedByOthers.first(where: { $0.address == address.description }) {
            throw Man8SError.addressCollision(name: name.value, address: address.description, other: claim.name)
        }
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date())
    }
}
