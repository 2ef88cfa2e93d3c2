import ConfinedFilesystem
import Foundation
import SystemErrors

/// `mbctl machines remove NAME`: deletes the rootfs, the `/var/lib/machines` link and the nspawn
/// file. Never the configuration or data: with them the machine can be made again.
public struct MachineRemoval: Sendable {
    public var layout: HostLayout

    public init(layout: HostLayout) {
        self.layout = layout
    }

    /// What was removed, and the user's directories that were left.
    public struct Outcome: Sendable {
        public var removed: [String]
        public var kept: [String]
        /// What the operator should know (machines whose hosts files could not be updated).
        public var warnings: [String]
    }

    public func remove(_ name: MachineName, force: Bool = false) throws -> Outcome {
        guard let directories = try MachineDirectories.openExisting(layout) else { throw Man8SError.noSuchMachine(name.value) }
        let lock = try MachineLock.acquire(name, for: .remove, in: directories)
        defer { lock.release() }
        _ = try directories.removeLeftovers(of: name)

        let link = try naming(layout.systemdLink(of: name)) { try directories.systemdMachines.status(of: name.bytes) }
        let nspawn = try naming(layout.nspawnFile(of: name)) { try directories.nspawnFiles.status(of: MachineDirectories.nspawnFileName(name)) }
        let rootfs = try naming(layout.rootfs(of: name)) { try directories.machines.status(of: name.bytes) }
        guard link != nil || nspawn != nil || rootfs != nil else { throw Man8SError.noSuchMachine(name.value) }
        // A machine another requires, or asks for names, stays: the other could no longer start
        // (or resolve).
        let dependents = try MachineSettings.ofOthers(than: name, in: directories).filter { $0.value.dependsOn(name) }.keys.sorted()
        guard dependents.isEmpty else { throw Man8SError.machineRequired(name.value, by: dependents) }
        if RunningMachines.isRunning(name, layout: layout) {
            guard force else { throw Man8SError.machineRunning(name.value, flag: "--force") }
            try stop(name)
        }

        var removed: [String] = []
        // /var/lib/machines is systemd's: only the symlink mbctl made goes, never a machine of
        // another tool that has the same name there.
        if let link {
            guard (link.st_mode & S_IFMT) == S_IFLNK else {
                throw RefusedPath(
                    path: layout.systemdLink(of: name), reason: "not the symlink mbctl makes there, so mbctl leaves it alone (another tool's machine?)")
            }
            try naming(layout.systemdLink(of: name)) { try directories.systemdMachines.remove(name.bytes) }
            removed.append(layout.systemdLink(of: name))
        }
        if nspawn != nil {
            try naming(layout.nspawnFile(of: name)) { try directories.nspawnFiles.remove(MachineDirectories.nspawnFileName(name)) }
            removed.append(layout.nspawnFile(of: name))
        }
        if rootfs != nil {
            try naming(layout.rootfs(of: name)) { try directories.machines.removeTree(name.bytes) }
            removed.append(layout.rootfs(of: name))
        }
        if let generations = try MachineGenerations.open(name, in: directories, create: false) {
            try naming(generations.path) { try generations.handle.removeTree(MachineGenerations.incoming) }
            for number in try generations.previous() {
                try naming("\(generations.path)/\(number)") { try generations.handle.removeTree(Array(String(number).utf8)) }
            }
            let top = try directories.machines.openDirectory(MachineGenerations.directoryName)
            try naming(generations.path) { try top.removeTree(name.bytes) }
        }
        try MachineUnitDropIn.remove(name, layout: layout)
        // The other machines forget its name at once.
        let warnings = try MachineNameFiles(directories: directories).refresh(for: nil)
        let kept = [(directories.configs, layout.configDirectory(of: name)), (directories.storage, layout.dataDirectory(of: name))]
            .filter { (try? $0.0.status(of: name.bytes)) != nil }.map(\.1)
        return Outcome(removed: removed, kept: kept, warnings: warnings)
    }

    /// Stops a running machine before it is removed: through systemd where systemd runs it, else
    /// by signalling its systemd-nspawn (SIGTERM, then SIGKILL after 30 seconds).
    private func stop(_ name: MachineName) throws {
        let systemd = Systemd()
        if systemd.isBooted, systemd.state(name)?.active == "active" {
            try systemd.stop(name)
            return
        }
        let directories = [layout.rootfs(of: name), layout.systemdLink(of: name)]
        for machine in RunningMachines.scan() where machine.matches(name: name.value, directories: directories) {
            kill(machine.pid, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(30)
        while RunningMachines.isRunning(name, layout: layout) {
            if Date() > deadline {
                for machine in RunningMachines.scan() where machine.matches(name: name.value, directories: directories) { kill(machine.pid, SIGKILL) }
            }
            usleep(100_000)
        }
    }
}
