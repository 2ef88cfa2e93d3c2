import Foundation

/// Finds a running machine's init, for `machines shell` to enter its namespaces.
public struct MachineShell: Sendable {
    public var layout: HostLayout

    public init(layout: HostLayout) {
        self.layout = layout
    }

    /// The PID of machine `name`'s first process (the busybox init, later the application):
    /// the child of the systemd-nspawn running the machine.
    public func leader(of name: MachineName) throws -> Int32 {
        let directories = [layout.rootfs(of: name), layout.systemdLink(of: name)]
        guard let nspawn = RunningMachines.scan().first(where: { $0.matches(name: name.value, directories: directories) }) else {
            throw Man8SError.notRunning(name.value, directory: layout.systemdLink(of: name))
        }
        let children = Self.children(of: nspawn.pid)
        guard let leader = children.min() else { throw Man8SError.notRunning(name.value, directory: layout.systemdLink(of: name)) }
        return leader
    }

    /// The command line that enters machine `name`: `nsenter -t PID -a /bin/sh [-c COMMAND]`.
    public func enterCommand(for name: MachineName, command: String?) throws -> [String] {
        let leader = try leader(of: name)
        return ["nsenter", "-t", "\(leader)", "-a", "/bin/sh"] + (command.map { ["-c", $0] } ?? [])
    }

    /// PIDs whose parent is `pid`, from /proc/N/stat.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "(comm)": state, then ppid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == pid else { return nil }
            return child
        }
    }
}
