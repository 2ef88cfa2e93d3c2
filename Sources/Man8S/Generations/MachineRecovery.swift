import ConfinedFilesystem
import Foundation
import SystemErrors

/// `mbctl machines recover NAME`: finishes an upgrade or rollback of NAME that a killed mbctl
/// left half-done (see ``MachineTransition``). The machine's unit runs it before every boot
/// (``MachineUnitDropIn``), so that what boots is one generation, whole.
public struct MachineRecovery: Sendable {
    public var layout: HostLayout

    public init(layout: HostLayout) {
        self.layout = layout
    }

    /// True when there was something to finish. Waits for an mbctl that works on the machine
    /// (blocking: call it from a command that runs no task).
    /// A machine that is not there is an error: the unit's `ExecStartPre` then keeps systemd from
    /// booting a rootfs that is missing (a wrong configuration, a swap that cannot be finished).
    @discardableResult
    public func recover(_ name: MachineName) throws -> Bool {
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        let lock = try MachineLock.waitFor(name, for: .upgrade, in: directories)
        defer { lock.release() }
        let finished = try MachineGenerations.open(name, in: directories, create: false).map(MachineTransition.recover) ?? false
        guard try directories.machines.status(of: name.bytes) != nil else {
            throw FilesystemError(path: layout.rootfs(of: name), operation: "find the root filesystem of", errno: ENOENT)
        }
        // The files the nspawn file binds in are there before it boots.
        try MachineNameFiles(directories: directories).refresh(only: name)
        return finished
    }
}
