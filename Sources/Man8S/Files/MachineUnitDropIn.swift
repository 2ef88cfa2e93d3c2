import ConfinedFilesystem
import Foundation
import SystemErrors

/// `/etc/systemd/system/systemd-nspawn@NAME.service.d/50-mbctl.conf`: has the machine's unit
/// run `mbctl machines recover NAME` before it boots, so that an upgrade or rollback cut short
/// (a crash, a power loss) is finished before the machine starts. A recovery that fails (the
/// machine or its rootfs is not where the configuration says, a swap that cannot be finished)
/// keeps the unit from starting: booting then would boot half a machine, or none.
///
/// It also carries the machine's service settings (``MachineSettings``): `Requires=` and
/// `After=` on the units of the machines it requires, and its resource limits.
public enum MachineUnitDropIn {
    static let fileName = Array("50-mbctl.conf".utf8)

    static func directoryName(_ name: MachineName) -> [UInt8] { Array("systemd-nspawn@\(name).service.d".utf8) }

    static func contents(_ name: MachineName, recovery: RecoveryCommand?, settings: MachineSettings) throws -> String {
        var lines = [
            "# Written by mbctl: the service settings of \(name) (mbctl machines configure), and, before it boots, the end of an upgrade or rollback cut short."
        ]
        let required = settings.requires.map { "systemd-nspawn@\($0).service" }
        if !required.isEmpty {
            lines += ["[Unit]", "Requires=" + required.joined(separator: " "), "After=" + required.joined(separator: " "), ""]
        }
        lines.append("[Service]")
        if let recovery { lines.append("ExecStartPre=\(try recovery.commandLine(name))") }
        lines += settings.limits.unitLines
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// Writes the drop-in for `name`, recording what it made in `undo` when given.
    static func write(_ name: MachineName, recovery: RecoveryCommand?, settings: MachineSettings, layout: HostLayout, undo: UndoLog?) throws {
        let text = try contents(name, recovery: recovery, settings: settings)
        let units = try HostDirectory.open(layout.systemdUnits, mode: 0o755).handle
        let path = "\(layout.systemdUnits)/systemd-nspawn@\(name).service.d"
        let directory: DirectoryHandle
        if let undo {
            directory = try undo.makeDirectory(directoryName(name), in: units, mode: 0o755, path: path).0
        } else {
            directory = try naming(path) {
                _ = try units.makeDirectoryIfMissing(directoryName(name), mode: 0o755)
                return try units.openDirectory(directoryName(name))
            }
        }
        try naming("\(path)/50-mbctl.conf") { try directory.writeFile(fileName, contents: Array(text.utf8), mode: 0o644) }
        undo?.created(fileName, in: directory)
    }

    /// Removes the drop-in of `name` (when it is there).
    static func remove(_ name: MachineName, layout: HostLayout) throws {
        let path = "\(layout.systemdUnits)/systemd-nspawn@\(name).service.d"
        let units: DirectoryHandle, directory: DirectoryHandle
        do {
            units = try DirectoryHandle.open(layout.systemdUnits)
            directory = try naming(path) { try units.openDirectory(directoryName(name)) }
        } catch let error as FilesystemError where error.errno == ENOENT {
            return
        }
        try naming("\(path)/50-mbctl.conf") { try directory.remove(fileName) }
        // The operator's own drop-ins for the unit may be there too: then the directory stays.
        let removed = withCPath(directoryName(name)) { unlinkat(units.fd, $0, AT_REMOVEDIR) }
        guard removed == 0 || errno == ENOTEMPTY || errno == ENOENT else {
            throw FilesystemError(path: path, operation: "remove", errno: errno)
        }
    }
}
