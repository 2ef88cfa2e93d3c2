import Foundation

/// `mbctl machines start|stop|restart|enable|disable NAME`: the machine's systemd unit, as
/// machinectl drives it. Before a start, an interrupted upgrade or rollback is finished and the
/// unit's drop-in (``MachineUnitDropIn``) is put in place.
public struct MachineLifecycle: Sendable {
    public var layout: HostLayout
    public var systemd = Systemd()
    /// This mbctl, for the unit's drop-in.
    public var recovery: RecoveryCommand?

    public init(layout: HostLayout) {
        self.layout = layout
    }

    public func start(_ name: MachineName) throws {
        try prepare(name)
        try systemd.start(name)
    }

    public func restart(_ name: MachineName) throws {
        try prepare(name)
        try systemd.restart(name)
    }

    public func stop(_ name: MachineName) throws {
        try requireMachine(name)
        try systemd.stop(name)
    }

    public func enable(_ name: MachineName) throws {
        try prepare(name)
        try systemd.enable(name)
    }

    public func disable(_ name: MachineName) throws {
        try requireMachine(name)
        try systemd.disable(name)
    }

    @discardableResult
    private func requireMachine(_ name: MachineName) throws -> MachineDirectories {
        try systemd.requireManaged(name)
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        return directories
    }

    private func prepare(_ name: MachineName) throws {
        let directories = try requireMachine(name)
        try MachineRecovery(layout: layout).recover(name)
        if let recovery {
            let settings = try MachineSettings.read(of: name, in: directories)
            try MachineUnitDropIn.write(name, recovery: recovery, settings: settings, layout: layout, undo: nil)
            // systemd reads drop-ins on a reload.
            try systemd.reload()
        }
    }
}
