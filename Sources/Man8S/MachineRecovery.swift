import ConfinedFilesystem
import Foundation

/// `mbctl machines recover NAME`: finishes an upgrade or rollback of NAME that a killed mbctl
/// left half-done (see ``MachineTransition``). The machine's unit runs it before every boot
/// (``MachineUnitDropIn``), so that what boots is one generation, whole.
public struct MachineRecovery: Sendable {
    public var layout: HostLayout

    public init(layout: HostLayout) {
        self.layout = layout
    }

    /// True when there was something to finish. Waits for an mbctl that works on the machine.
    @discardableResult
    public func recover(_ name: MachineName) throws -> Bool {
        guard let directories = try MachineDirectories.openExisting(layout) else { return false }
        let lock = try MachineLock.acquire(name, for: .upgrade, in: directories, wait: true)
        defer { lock.release() }
        guard let generations = try MachineGenerations.open(name, in: directories, create: false) else { return false }
        return try MachineTransition.recover(generations)
    }
}

/// `/etc/systemd/system/systemd-nspawn@NAME.service.d/50-mbctl.conf`: has the machine's unit
/// run `mbctl machines recover NAME` before it boots, so that an upgrade or rollback cut short
/// (a crash, a power loss) is finished before the machine starts. The `-` lets the machine
/// boot even where that mbctl is gone.
public enum MachineUnitDropIn {
    static let fileName = Array("50-mbctl.conf".utf8)

    static func directoryName(_ name: MachineName) -> [UInt8] { Array("systemd-nspawn@\(name).service.d".utf8) }

    static func contents(_ name: MachineName, executable: String) -> String {
        """
        # Written by mbctl: finishes an upgrade or rollback of \(name) that was cut short, before it boots.
        [Service]
        ExecStartPre=-\(executable) machines recover \(name)

        """
    }

    /// Writes the drop-in for `name`, recording what it made in `rollback` when given.
    static func write(_ name: MachineName, executable: String, layout: HostLayout, rollback: Rollback?) throws {
        guard !executable.contains(where: { $0.isNewline || $0 == " " }) else { return }
        let units = try HostDirectory.open(layout.systemdUnits, mode: 0o755).handle
        let path = "\(layout.systemdUnits)/systemd-nspawn@\(name).service.d"
        let directory: DirectoryHandle
        if let rollback {
            directory = try rollback.makeDirectory(directoryName(name), in: units, mode: 0o755, path: path).0
        } else {
            directory = try naming(path) {
                _ = try units.makeDirectoryIfMissing(directoryName(name), mode: 0o755)
                return try units.openDirectory(directoryName(name))
            }
        }
        try naming("\(path)/50-mbctl.conf") { try directory.writeFile(fileName, contents: Array(contents(name, executable: executable).utf8), mode: 0o644) }
        rollback?.created(fileName, in: directory)
    }

    /// Removes the drop-in of `name` (when it is there).
    static func remove(_ name: MachineName, layout: HostLayout) throws {
        guard let units = try? DirectoryHandle.open(layout.systemdUnits), let directory = try? units.openDirectory(directoryName(name)) else { return }
        try naming("\(layout.systemdUnits)/systemd-nspawn@\(name).service.d/50-mbctl.conf") { try directory.remove(fileName) }
        _ = withCPath(directoryName(name)) { unlinkat(units.fd, $0, AT_REMOVEDIR) }
    }
}
