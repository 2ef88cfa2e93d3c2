import BlockingWork
import ConfinedFilesystem
import Foundation
import ImageAccess
import LayerUnpacker
import OCILayout
import SystemErrors

/// One generation of a machine built from a prepared image, what `machines pull` and
/// `machines upgrade` share: the rootfs (a snapshot or reflink copy of the image's tree, or the
/// layers applied), the Man8S init in it, the volumes' host directories made and seeded from the
/// image, and the texts of the nspawn file, `man8env.env` and mbctl's record. Where they go is the
/// caller's: a pull renames them into place, an upgrade leaves them in `next/` for a
/// ``MachineTransition``.
///
/// Everything made is recorded in the caller's ``UndoLog``, so that a failure takes it away.
public struct MachineBuild: Sendable {
    public var layout: HostLayout
    public var images: ImageAccess
    /// The template of new machines (`network_isolated`, the only one).
    public var template = "network_isolated"
    /// How machines' rootfses are made (`[machines] rootfs`); nil chooses the cheapest the
    /// file system allows (``ImageTrees``).
    public var rootfsMethod: RootfsMethod?

    public init(layout: HostLayout, images: ImageAccess) {
        self.layout = layout
        self.images = images
    }

    /// Where a generation's rootfs is built: entry `name` of `parent`, which is `path`.
    struct RootfsPlace {
        let parent: DirectoryHandle
        let name: [UInt8]
        let path: String
    }

    /// A built generation: its rootfs in place, its files as texts, its volumes seeded.
    struct Generation {
        /// How the rootfs was made.
        let method: RootfsMethod
        let nspawnFile: String
        /// `man8env.env` as mbctl writes it (an upgrade merges the user's lines into it).
        let environmentFile: String
        let record: GenerationRecord
        let own: OwnDirectories
        /// Configuration/data directories that existed before and were reused.
        let reused: [String]
        let seeded: TreeCopy.Statistics
    }

    /// Builds generation `number` of `definition`'s machine from `prepared` into `place`,
    /// seeding `seeding` (every volume for a new machine; only those new in the image for an
    /// upgrade: what is in the configuration and data directories already is the user's).
    func build(
        _ prepared: ImageAccess.PreparedImage, definition: MachineDefinition, number: Int, into place: RootfsPlace,
        seeding: [VolumeMapping], directories: MachineDirectories, undo: UndoLog,
        progress: TransferEventHandler?, layerApplied: ImageAccess.LayerApplied?
    ) async throws -> Generation {
        let method = try await makeRootfs(
            place.name, in: place.parent, path: place.path, from: prepared, directories: directories,
            undo: undo, progress: progress, layerApplied: layerApplied)
        try Task.checkCancellation()
        let nspawn = try NspawnFile.render(definition)
        let environment = try EnvironmentFile.render(definition, version: MbctlVersion.current)
        let (own, reused) = try openOwnDirectories(of: definition.name, in: directories, undo: undo)
        // Copies of the image's volume contents and busybox: blocking file work, on a thread of its own.
        let (seeded, imageHosts) = try await BlockingWork.run { [self] flag in
            let copied = try seed(seeding, from: try RootDirectory(path: place.path), into: own, undo: undo)
            try flag.check()
            let imageHosts = MachineNameFiles.imageEntries(inRootfs: place.path)
            try finishRootfs(place.path)
            return (copied, imageHosts)
        }
        try Task.checkCancellation()
        var record = GenerationRecord(definition, number: number, written: environment)
        record.verification = prepared.verification
        record.imageHosts = imageHosts
        return Generation(
            method: method, nspawnFile: nspawn, environmentFile: environment,
            record: record,
            own: own, reused: reused, seeded: seeded)
    }

    /// Makes the rootfs `name` of `parent` from the prepared image: a snapshot or reflink copy of
    /// the image's tree (unpacked once), or the layers applied into it. Records it in `undo`.
    private func makeRootfs(
        _ name: [UInt8], in parent: DirectoryHandle, path: String, from prepared: ImageAccess.PreparedImage, directories: MachineDirectories,
        undo: UndoLog, progress: TransferEventHandler?, layerApplied: ImageAccess.LayerApplied?
    ) async throws -> RootfsMethod {
        let method = try ImageTrees.method(for: directories, configured: rootfsMethod)
        if method == .unpack {
            _ = try undo.makeDirectory(name, in: parent, mode: 0o755, path: path)
            _ = try await images.populate(path, with: prepared, progress: progress, layerApplied: layerApplied)
            return method
        }
        let (tree, _) = try await ImageTrees(directories: directories, images: images).tree(
            for: prepared, method: method, progress: progress, layerApplied: layerApplied)
        try await BlockingWork.run { try ImageTrees.copy(tree, as: name, in: parent, method: method, path: path) }
        undo.created(name, in: parent)
        return method
    }

    /// Makes every volume's host directory, then copies into each what the image holds there.
    ///
    /// All directories first, parents before children: a nested volume's directory is then a
    /// real directory before the outer volume's seed copy gets there, so the image cannot put a
    /// symlink in its place. A directory this run made gets the owner and mode of the image's.
    private func seed(
        _ volumes: [VolumeMapping], from rootfs: RootDirectory, into own: OwnDirectories, undo: UndoLog
    ) throws -> TreeCopy.Statistics {
        var hostDirectories: [(VolumeMapping, DirectoryHandle, created: Bool)] = []
        for volume in volumes.sorted(by: { $0.containerPath < $1.containerPath }) {
            switch volume.choice {
            case .config, .data:
                let base = volume.choice == .config ? own.config : own.data
                let (directory, created) = try undo.makeDirectories(volume.containerPath.entryPath, beneath: base.handle, mode: 0o755, basePath: base.path)
                hostDirectories.append((volume, directory, created))
            case .custom(let path):
                let parentPath = (path as NSString).deletingLastPathComponent
                let parent = try DirectoryHandle.open(parentPath)
                let name = Array((path as NSString).lastPathComponent.utf8)
                let (directory, created) = try undo.makeDirectory(name, in: parent, mode: 0o700, path: path)
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
                let statistics = try TreeCopy.copyContents(of: source, into: directory) { parent, name in undo.created(name, in: parent) }
                if created { try TreeCopy.copyAttributes(of: source, to: directory) }
                return statistics
            }
            total.add(copied)
        }
        return total
    }

    /// The machine's own configuration and data directories: private at the NAME level, the
    /// image's owners and modes apply only inside. Also returns those that existed already.
    private func openOwnDirectories(of name: MachineName, in directories: MachineDirectories, undo: UndoLog) throws -> (OwnDirectories, reused: [String]) {
        var reused: [String] = []
        func ownDirectory(in parent: DirectoryHandle, _ parentPath: String) throws -> OwnDirectory {
            let path = "\(parentPath)/\(name)"
            let (directory, created) = try undo.makeDirectory(name.bytes, in: parent, mode: 0o700, path: path)
            if !created {
                reused.append(path)
                try undo.narrow(directory, to: 0o700, path: path)
            }
            return OwnDirectory(handle: directory, path: path)
        }
        let own = OwnDirectories(
            config: try ownDirectory(in: directories.configs, layout.configs), data: try ownDirectory(in: directories.storage, layout.storage))
        return (own, reused)
    }

    /// Installs the Man8S init into the rootfs at `path` and keeps its /run and /tmp aside.
    private func finishRootfs(_ path: String) throws {
        let initSystem = InitSystem(hostBusybox: layout.busybox)
        let rootFilesystem = RootFilesystem(path: path)
        try initSystem.install(into: rootFilesystem)
        try initSystem.protectRunAndTmp(in: rootFilesystem)
    }

    /// A machine's configuration or data directory, open.
    struct OwnDirectory: Sendable {
        let handle: DirectoryHandle
        let path: String
    }

    struct OwnDirectories: Sendable {
        let config: OwnDirectory
        let data: OwnDirectory
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
                throw Man8SError.invalidVolume(
                    text, reason: "the image has no such volume (it has: \(paths.isEmpty ? "none" : paths.map(\.description).joined(separator: ", ")))")
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
}
