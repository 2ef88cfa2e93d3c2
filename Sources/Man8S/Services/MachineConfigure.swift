import ConfinedFilesystem
import Foundation

/// `mbctl machines configure NAME`: changes a machine's service settings (``MachineSettings``)
/// and the files systemd reads from them: the `Port=` lines of `NAME.nspawn` and the unit's
/// drop-in (requirements, limits). They apply at the machine's next start, or at once with
/// `restart`. A change that leaves the settings as they are writes nothing.
public struct MachineConfigure: Sendable {
    public var layout: HostLayout
    public var systemd = Systemd()
    /// This mbctl, for the unit's drop-in.
    public var recovery: RecoveryCommand?
    /// Whether the layout is the running host's, whose forwarding and bridge a published port
    /// needs (false for a tree prepared with `--root`).
    public var checksHost = true

    public init(layout: HostLayout) {
        self.layout = layout
    }

    public struct Outcome: Sendable {
        public var settings: MachineSettings
        /// Whether anything was written.
        public var changed: Bool
        public var restarted: Bool
    }

    public func configure(_ name: MachineName, _ change: SettingsChange, restart: Bool) throws -> Outcome {
        try configure(name, restart: restart) { try change.applied(to: $0) }
    }

    /// Refuses `change` as `configure` would, writing nothing (to check it before an upgrade).
    public func check(_ name: MachineName, _ change: SettingsChange) throws {
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        let current = try MachineSettings.read(of: name, in: directories)
        let wanted = try change.applied(to: current)
        try SettingsCheck(directories: directories, checksHost: checksHost).check(
            wanted, for: name, publishingNew: wanted.ports.contains { !current.ports.contains($0) })
    }

    /// Gives machine `name` exactly `settings` (`machines apply`).
    public func configure(_ name: MachineName, to settings: MachineSettings, restart: Bool) throws -> Outcome {
        try configure(name, restart: restart) { _ in settings }
    }

    private func configure(_ name: MachineName, restart: Bool, wanting: (MachineSettings) throws -> MachineSettings) throws -> Outcome {
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        let lock = try MachineLock.acquire(name, for: .configure, in: directories)
        let current: MachineSettings, wanted: MachineSettings
        do {
            // Released before the restart: the unit's ExecStartPre (machines recover) takes it.
            defer { lock.release() }
            current = try MachineSettings.read(of: name, in: directories)
            wanted = try wanting(current)
            let publishingNew = wanted.ports.contains { !current.ports.contains($0) }
            try SettingsCheck(directories: directories, checksHost: checksHost).check(wanted, for: name, publishingNew: publishingNew)
            guard wanted != current else { return Outcome(settings: current, changed: false, restarted: false) }
            try Self.install(wanted, replacing: current, for: name, in: directories, recovery: recovery)
        }
        try systemd.reload()
        // A unit's Wants= act when it starts: a check added to a running machine starts its watcher now.
        if wanted.health != nil, recovery != nil, systemd.isBooted, RunningMachines.isRunning(name, layout: layout) {
            try systemd.startHealthWatcher(name)
        }
        var restarted = false
        if restart, RunningMachines.isRunning(name, layout: layout) {
            try systemd.requireManaged(name)
            try systemd.restart(name)
            restarted = true
        }
        return Outcome(settings: wanted, changed: true, restarted: restarted)
    }

    /// Writes the files systemd reads from `settings` (the nspawn file's ports, the unit's
    /// drop-in), then the record: a failure in between leaves the record as it was, and the
    /// next `configure` writes the files again.
    static func install(
        _ settings: MachineSettings, replacing previous: MachineSettings, for name: MachineName, in directories: MachineDirectories,
        recovery: RecoveryCommand?
    ) throws {
        let layout = directories.layout
        if settings.environment != previous.environment {
            // The machine's file, carried as data: only the operator's keys change in it.
            let current = try directories.carriedEnvironment(of: name) ?? ""
            let updated = EnvironmentFile.setting(settings.environment, removing: Set(previous.environment.keys), in: current)
            try naming(layout.environmentFile(of: name)) {
                _ = try directories.configs.makeDirectoryIfMissing(name.bytes, mode: 0o700)
                try directories.configs.openDirectory(name.bytes).writeFile(MachineDirectories.environmentFileName, contents: Array(updated.utf8), mode: 0o644)
            }
        }
        let nspawnName = MachineDirectories.nspawnFileName(name)
        if let bytes = try naming(layout.nspawnFile(of: name), { try directories.nspawnFiles.readFile(nspawnName, limit: 1 << 20) }) {
            let updated = try NspawnFile.serving(settings, of: name, layout: layout, in: String(decoding: bytes, as: UTF8.self))
            try naming(layout.nspawnFile(of: name)) { try directories.nspawnFiles.writeFile(nspawnName, contents: Array(updated.utf8), mode: 0o644) }
        }
        try MachineUnitDropIn.write(name, recovery: recovery, settings: settings, layout: layout, undo: nil)
        try settings.write(of: name, in: directories)
        try MachineNameFiles(directories: directories).refresh(only: name)
    }
}
