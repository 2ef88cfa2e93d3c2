import Foundation
import LayerUnpacker
import OCILayout
import RegistryClient

/// `mbctl machines pull SRC NAME`: a Man8S machine from an image (man8s-system.md, section 3).
///
/// All or nothing: the rootfs is built in a hidden staging directory beside where it goes, every
/// file is written under a temporary name and renamed, and a failure or cancellation (Ctrl-C)
/// removes what this run created. Configuration and data directories that exist already (left
/// by a removed machine) are the user's: they are reused, and nothing in them is overwritten.
public struct MachinePull: Sendable {
    public var layout: HostLayout
    public var download: RootfsDownload
    public var prefix: IPv6Prefix

    public init(layout: HostLayout, download: RootfsDownload, prefix: IPv6Prefix) {
        self.layout = layout
        self.download = download
        self.prefix = prefix
    }

    /// What a pull made.
    public struct Outcome: Sendable {
        public var name: MachineName
        public var address: YggdrasilAddress
        public var imageDigest: Digest
        public var statistics: UnpackStatistics
        public var volumes: [VolumeMapping]
        /// Configuration/data directories that existed before and were reused.
        public var reused: [String]
        /// A previous `man8env.env` kept aside, if there was one.
        public var previousEnvironmentFile: String?
    }

    /// Asks where a volume goes when no `--volume` answers it (nil: no terminal to ask on).
    public typealias VolumeQuestion = @Sendable (String) -> VolumeChoice?

    public func pull(
        _ source: ImageLocation, as imageText: String, name: MachineName,
        volumes answers: [String: VolumeChoice] = [:], ask: VolumeQuestion? = nil,
        progress: TransferEventHandler? = nil, layerApplied: (@Sendable (Int, Int, UnpackStatistics) -> Void)? = nil
    ) async throws -> Outcome {
        let address = YggdrasilAddress(machineName: name.value, prefix: prefix)
        try checkFree(name, address: address)

        // The config first, so the volume questions come before the long download.
        let prepared = try await download.prepare(source, progress: progress)
        let runtime = prepared.image.configuration.config ?? ImageConfiguration.RuntimeSettings()
        let volumes = try decideVolumes(Array((runtime.volumes ?? [:]).keys).sorted(), for: name, answers: answers, ask: ask)

        let rollback = Rollback()
        do {
            return try await build(
                prepared, imageText: imageText, name: name, address: address, volumes: volumes,
                rollback: rollback, progress: progress, layerApplied: layerApplied)
        } catch {
            rollback.undo()
            throw error
        }
    }

    private func build(
        _ prepared: RootfsDownload.PreparedImage, imageText: String, name: MachineName, address: YggdrasilAddress,
        volumes: [VolumeMapping], rollback: Rollback,
        progress: TransferEventHandler?, layerApplied: (@Sendable (Int, Int, UnpackStatistics) -> Void)?
    ) async throws -> Outcome {
        for directory in [layout.machines, layout.systemdMachines, layout.nspawnFiles, layout.configs, layout.storage] {
            try rollback.makeDirectories(directory)
        }
        let staging = "\(layout.machines)/.\(name).mbctl-\(UUID().uuidString.prefix(8))"
        guard mkdir(staging, 0o755) == 0 else { throw Man8SError.filesystem(path: staging, operation: "create", errno: errno) }
        rollback.created(staging)

        let result = try await download.populate(staging, with: prepared, progress: progress, layerApplied: layerApplied)
        try Task.checkCancellation()
        var definition = MachineDefinition(
            name: name, address: address, image: imageText, createdAt: Date(),
            runtime: result.image.configuration.config ?? ImageConfiguration.RuntimeSettings(),
            volumes: volumes, layout: layout)
        definition.imageDigest = result.image.manifestDescriptor.digest.description
        let nspawn = try NspawnFile.render(definition)
        let environment = try EnvironmentFile.render(definition, version: MbctlVersion.current)

        var reused: [String] = []
        for directory in [layout.configDirectory(of: name), layout.dataDirectory(of: name)] {
            if FileManager.default.fileExists(atPath: directory) { reused.append(directory) }
            try rollback.makeDirectories(directory)
        }
        let rootfs = RootFilesystem(path: staging)
        for volume in volumes {
            try rollback.makeDirectories((volume.hostPath as NSString).deletingLastPathComponent)
            for path in try rootfs.copyTree(volume.containerPath, toHost: volume.hostPath) {
                rollback.created(path)
            }
            try rollback.makeDirectories(volume.hostPath)
        }

        let environmentPath = layout.environmentFile(of: name)
        var previous: String?
        if FileManager.default.fileExists(atPath: environmentPath) {
            let aside = environmentPath + ".previous-" + Self.timestamp()
            guard rename(environmentPath, aside) == 0 else { throw Man8SError.filesystem(path: environmentPath, operation: "keep aside", errno: errno) }
            rollback.movedAside(environmentPath, to: aside)
            previous = aside
        }
        try Self.writeFile(environmentPath, environment, rollback: rollback)

        let initSystem = InitSystem(hostBusybox: layout.busybox)
        try initSystem.install(into: rootfs)
        try initSystem.protectRunAndTmp(in: rootfs)
        try Task.checkCancellation()

        let rootfsPath = layout.rootfs(of: name)
        guard rename(staging, rootfsPath) == 0 else { throw Man8SError.filesystem(path: rootfsPath, operation: "rename into place", errno: errno) }
        rollback.created(rootfsPath)
        try Self.writeFile(layout.nspawnFile(of: name), nspawn, rollback: rollback)
        let link = layout.systemdLink(of: name)
        guard symlink(rootfsPath, link) == 0 else { throw Man8SError.filesystem(path: link, operation: "create symlink", errno: errno) }
        rollback.created(link)

        return Outcome(
            name: name, address: address, imageDigest: result.image.manifestDescriptor.digest, statistics: result.statistics,
            volumes: volumes, reused: reused, previousEnvironmentFile: previous)
    }

    /// Refuses a name that is taken, or whose address another machine has.
    func checkFree(_ name: MachineName, address: YggdrasilAddress) throws {
        for path in [layout.rootfs(of: name), layout.systemdLink(of: name), layout.nspawnFile(of: name)] {
            var info = stat()
            if lstat(path, &info) == 0 { throw Man8SError.machineExists(name.value) }
        }
        for other in MachineList(layout: layout).names() where other != name.value {
            guard let text = try? String(contentsOfFile: "\(layout.configs)/\(other)/man8env.env", encoding: .utf8) else { continue }
            if EnvironmentFile.parse(text).contains(where: { $0.key == "MAN8S_YGGDRASIL_ADDRESS" && $0.value == address.description }) {
                throw Man8SError.addressCollision(name: name.value, address: address.description, other: other)
            }
        }
    }

    /// Each volume's host directory, from the flags or by asking.
    func decideVolumes(_ paths: [String], for name: MachineName, answers: [String: VolumeChoice], ask: VolumeQuestion?) throws -> [VolumeMapping] {
        for path in answers.keys where !paths.contains(path) {
            throw Man8SError.invalidVolume(path, reason: "the image has no such volume (it has: \(paths.isEmpty ? "none" : paths.joined(separator: ", ")))")
        }
        var mappings: [VolumeMapping] = []
        for path in paths {
            guard let choice = answers[path] ?? ask?(path) else { throw Man8SError.volumeUnanswered(path) }
            let relative = String(path.drop { $0 == "/" })
            switch choice {
            case .config: mappings.append(VolumeMapping(containerPath: path, hostPath: "\(layout.configDirectory(of: name))/\(relative)"))
            case .data: mappings.append(VolumeMapping(containerPath: path, hostPath: "\(layout.dataDirectory(of: name))/\(relative)"))
            case .skip: continue
            case .custom(let host):
                guard !FileManager.default.fileExists(atPath: host) else {
                    throw Man8SError.invalidVolume(host, reason: "a custom volume directory must not exist yet")
                }
                mappings.append(VolumeMapping(containerPath: path, hostPath: host))
            }
        }
        return mappings
    }

    /// Writes `text` to `path` through a temporary file and a rename.
    static func writeFile(_ path: String, _ text: String, rollback: Rollback) throws {
        let temporary = path + ".mbctl-new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw Man8SError.filesystem(path: temporary, operation: "write", errno: errno)
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Man8SError.filesystem(path: path, operation: "rename into place", errno: errno)
        }
        rollback.created(path)
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date())
    }
}
