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
        // The health watcher runs while the machine does (it is bound to the machine's unit).
        let watched = settings.health != nil && recovery != nil
        if !required.isEmpty || watched {
            lines.append("[Unit]")
            if !required.isEmpty { lines += ["Requires=" + required.joined(separator: " "), "After=" + required.joined(separator: " ")] }
            if watched { lines.append("Wants=\(healthUnit(name))") }
            lines.append("")
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
        if let recovery, settings.health != nil {
            // Shared by every machine with a health check; the same text each time.
            let watcher = Array(try healthWatcher(recovery).utf8)
            if try naming("\(layout.systemdUnits)/mbctl-health@.service", { try units.readFile(healthTemplate, limit: 1 << 16) }) != watcher {
                try naming("\(layout.systemdUnits)/mbctl-health@.service") { try units.writeFile(healthTemplate, contents: watcher, mode: 0o644) }
            }
        }
    }

    static let healthTemplate = Array("mbctl-health@.service".utf8)
    static func healthUnit(_ name: MachineName) -> String { "mbctl-health@\(name).service" }

    /// `mbctl-health@.service`: `mbctl machines health NAME --watch` while machine NAME runs.
    static func healthWatcher(_ recovery: RecoveryCommand) throws -> String {
        """
        # Written by mbctl: the health checks of machine %i while it runs (mbctl machines configure %i --health-cmd CMD).
        [Unit]
        Description=Health checks of machine %i
        BindsTo=systemd-nspawn@%i.service
        After=systemd-nspawn@%i.service

        [Service]
        ExecStart=\(try recovery.commandLine(arguments: ["machines", "health"], instance: "%i", then: ["--watch"]))
        Restart=on-failure
        RestartSec=5

        """
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
