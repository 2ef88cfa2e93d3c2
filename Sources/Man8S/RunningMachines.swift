import Foundation

/// systemd-nspawn processes running now, read from /proc: machined may not be there (PID 1 is
/// not always systemd), and the process table always is.
struct RunningMachines {
    let pid: Int32
    let arguments: [String]

    /// Whether machine `name` of `layout` runs now.
    static func isRunning(_ name: MachineName, layout: HostLayout) -> Bool {
        scan().contains { $0.matches(name: name.value, directories: [layout.rootfs(of: name), layout.systemdLink(of: name)]) }
    }

    static func scan() -> [RunningMachines] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { return nil }
            let arguments = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard let program = arguments.first, (program as NSString).lastPathComponent == "systemd-nspawn" else { return nil }
            return RunningMachines(pid: pid, arguments: arguments)
        }
    }

    /// Whether this nspawn runs machine `name`: `-M NAME`, `--machine=NAME`, or `-D` on its rootfs.
    func matches(name: String, directories: [String]) -> Bool {
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            let next = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch argument {
            case "-M", "--machine": if next == name { return true }
            case "-D", "--directory": if directories.contains(next) { return true }
            default:
                if argument == "--machine=\(name)" || argument == "-M\(name)" { return true }
                if argument.hasPrefix("--directory="), directories.contains(String(argument.dropFirst("--directory=".count))) { return true }
                if argument.hasPrefix("-D"), directories.contains(String(argument.dropFirst(2))) { return true }
            }
            index += 1
        }
        return false
    }
}
