import ConfinedFilesystem
import Foundation
import ImageAccess
import LayerUnpacker
import OCILayout
import SystemErrors
import BlockingWork

/// `mbctl machines upgrade NAME [SRC]`: the machine made anew from the newest image, its
/// configuration and data kept, the old generation kept for `machines rollback`.
///
/// SRC defaults to the image the machine was made from, as mbctl recorded it (never as the
/// machine's own `man8env.env` says: the machine can rewrite that file). When its manifest
/// digest is the recorded one nothing changes. Otherwise the
/// new rootfs is built in `machines/.generations/NAME/next/` with the same pipeline and safety
/// as a pull, the init installed, `NAME.nspawn` and `man8env.env` written anew (every line the
/// user added or changed in `man8env.env` kept), volumes new in the image seeded, and then a
/// ``MachineTransition`` swaps the generations. The configuration and data directories are
/// never touched but to seed new volumes; volumes the new image dropped keep their host
/// directories.
public struct MachineUpgrade: Sendable {
    public var build: MachineBuild
    /// The host's yggdrasil prefix, for a machine mbctl has no record of the address of (made by
    /// an older mbctl): its address is then derived from its name, as every Man8S address is.
    public var prefix: IPv6Prefix?
    /// Kept generations (`[machines] keep_generations`, default 1).
    public var keep = 1
    /// Stops a running machine (through systemd) for the swap, and starts it again.
    public var restart = false
    public var systemd = Systemd()

    public init(build: MachineBuild) {
        self.build = build
    }

    public enum Outcome: Sendable {
        case upToDate(Digest)
        case upgraded(Upgraded)
    }

    public struct Upgraded: Sendable {
        public var from: String?
        public var to: Digest
        public var generation: Int
        /// Volumes the new image has that the old one had not (seeded now).
        public var newVolumes: [VolumeMapping]
        /// Volumes the old image had and the new one has not: their host directories stay.
        public var droppedVolumes: [VolumeMapping]
        public var restarted: Bool
        public var warnings: [String]
    }

    public func upgrade(
        _ name: MachineName, from sourceText: String? = nil,
        volumes answers: [String: VolumeChoice] = [:], ask: VolumeQuestion? = nil,
        progress: TransferEventHandler? = nil, layerApplied: ImageAccess.LayerApplied? = nil
    ) async throws -> Outcome {
        let layout = build.layout
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        let lock = try MachineLock.acquire(name, for: .upgrade, in: directories)
        defer { lock.release() }
        let lease = try await ImageCache(path: layout.cache).lease()
        defer { lease.release() }
        guard let generations = try MachineGenerations.open(name, in: directories, create: true) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        try MachineTransition.recover(generations)
        try generations.removeAbandonedPreparation()

        // mbctl's own record decides; the machine's man8env.env is only carried over, as data.
        let current = try generations.current()
        guard let imageText = sourceText ?? current?.image else { throw Man8SError.unrecordedImage(name.value) }
        let address =
            try current?.yggdrasilAddress ?? prefix.map { YggdrasilAddress(machineName: name.value, prefix: $0) }
            ?? {
                throw Man8SError.noPrefix(reasons: ["mbctl has no record of \(name)'s address (it was made by an older mbctl), so it derives it from the name"])
            }()
        let environmentText = try directories.carriedEnvironment(of: name)
        let location = try ImageLocation(parsing: imageText)
        let prepared = try await build.images.prepare(location, progress: progress)
        let digest = prepared.image.manifestDescriptor.digest
        if current?.digest == digest.description {
            return .upToDate(digest)
        }

        let running = RunningMachines.isRunning(name, layout: layout)
        if running && !restart { throw Man8SError.machineRunning(name.value, flag: "--restart") }
        if running { try systemd.requireManaged(name) }

        let oldVolumes = current?.mappings ?? NspawnFile.boundVolumes(in: directories, of: name)
        let runtime = prepared.image.configuration.config ?? ImageConfiguration.RuntimeSettings()
        let imageVolumes = try MachineBuild.volumePaths(of: runtime)
        let kept = oldVolumes.filter { imageVolumes.contains($0.containerPath) }
        let dropped = oldVolumes.filter { !imageVolumes.contains($0.containerPath) }
        let fresh = imageVolumes.filter { path in !oldVolumes.contains { $0.containerPath == path } }
        let newVolumes = try build.decideVolumes(fresh, for: name, answers: answers.filter { (try? VolumePath($0.key)).map(fresh.contains) ?? true }, ask: ask)

        let currentNumber = current?.number ?? 1
        let number = max(currentNumber, try generations.previous().max() ?? 0) + 1
        var definition = MachineDefinition(
            name: name, address: address, image: imageText, createdAt: Date(),
            runtime: runtime, volumes: kept + newVolumes, layout: layout)
        definition.template = current?.template ?? build.template
        definition.imageDigest = digest.description
        let undo = UndoLog()
        do {
            try await prepareNext(
                prepared, definition: definition, number: number, newVolumes: newVolumes, environment: environmentText ?? "",
                previouslyWritten: current?.written, in: directories, generations: generations, undo: undo,
                progress: progress, layerApplied: layerApplied)
        } catch {
            undo.revert()
            try? generations.handle.removeTree(MachineGenerations.incoming)
            throw error
        }

        // From here on the upgrade happens: a failure leaves the journal for the next mbctl.
        let systemd = self.systemd
        if running { try await BlockingWork.run { try systemd.stop(name) } }
        try MachineTransition(incoming: "next", outgoing: currentNumber, keep: keep).begin(in: generations)
        // The unit's ExecStartPre (machines recover) takes the machine's lock: let go of it first.
        lock.release()
        if running { try await BlockingWork.run { try systemd.start(name) } }
        return .upgraded(
            Upgraded(
                from: current?.digest, to: digest, generation: number, newVolumes: newVolumes, droppedVolumes: dropped,
                restarted: running, warnings: definition.droppedEnvironment))
    }

    /// Builds the incoming generation in `next/` (``MachineBuild``) and writes its nspawn file,
    /// its record and its man8env.env, the user's lines of the current one merged in.
    private func prepareNext(
        _ prepared: ImageAccess.PreparedImage, definition: MachineDefinition, number: Int, newVolumes: [VolumeMapping],
        environment currentText: String, previouslyWritten: String?, in directories: MachineDirectories,
        generations: MachineGenerations, undo: UndoLog,
        progress: TransferEventHandler?, layerApplied: ImageAccess.LayerApplied?
    ) async throws {
        let name = definition.name
        let nextPath = "\(generations.path)/next"
        let next = try naming(nextPath) {
            _ = try generations.handle.makeDirectoryIfMissing(MachineGenerations.incoming, mode: 0o700)
            return try generations.handle.openDirectory(MachineGenerations.incoming)
        }
        let generation = try await build.build(
            prepared, definition: definition, number: number,
            into: MachineBuild.RootfsPlace(parent: next, name: MachineGenerations.rootfs, path: "\(nextPath)/rootfs"),
            seeding: newVolumes, directories: directories, undo: undo, progress: progress, layerApplied: layerApplied)
        let environment = EnvironmentFile.merge(current: currentText, previouslyWritten: previouslyWritten, newlyWritten: generation.environmentFile)
        try naming(nextPath) {
            try next.writeFile(MachineDirectories.nspawnFileName(name), contents: Array(generation.nspawnFile.utf8), mode: 0o644)
            try next.writeFile(MachineDirectories.environmentFileName, contents: Array(environment.utf8), mode: 0o644)
            try next.writeFile(MachineGenerations.generationRecord, contents: try generation.record.encoded(), mode: 0o600)
        }
        try Task.checkCancellation()
    }
}
