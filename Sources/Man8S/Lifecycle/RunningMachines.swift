import Foundation

/// systemd-nspawn processes running now, read from /proc: machined may not be there (PID 1 is
/// not always systemd), and the process table always is.
///
/// Only processes of mbctl's own PID namespace count: a machine's processes are in the host's
/// /proc too, and one of them may call itself `systemd-nspawn -D /var/lib/man8machines/other`
/// to make mbctl believe another machine runs.
struct RunningMachines {
    let pid: Int32
    let arguments: [String]

    /// Whether machine `name` of `layout` runs now.
    static func isRunning(_ name: MachineName, layout: HostLayout) -> Bool {
        scan().contains { $0.matches(name: name.value, directories: [layout.rootfs(of: name), layout.systemdLink(of: name)]) }
    }

    /// Where systemd-nspawn looks for `-M NAME` when it is given no directory.
    static let searchDirectory = "/var/lib/machines"

    static func scan() -> [RunningMachines] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let ownNamespace = pidNamespace(of: "self")
        return entries.compactMap { entry in
            guard let pid = Int32(entry), ownNamespace != nil, pidNamespace(of: entry) == ownNamespace,
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty
            else { return nil }
            let arguments = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard let program = arguments.first, (program as NSString).lastPathComponent == "systemd-nspawn" else { return nil }
            return RunningMachines(pid: pid, arguments: arguments)
        }
    }

    /// The PID namespace of process `entry` of /proc (`pid:[4026531836]`); nil when it cannot be
    /// read (the process ended, or /proc hides it).
    static func pidNamespace(of entry: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = readlink("/proc/\(entry)/ns/pid", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether this nspawn runs machine `name`: `-D` on its rootfs (or its systemd link), or, with
    /// no directory given, `-M NAME` (`--machine=NAME`), which nspawn finds in /var/lib/machines:
    /// so a machine of the same name under another `--root` is not this one.
    func matches(name: String, directories: [String]) -> Bool {
        if let directory = directory {
            return directories.contains(directory)
        }
        guard directories.contains("\(Self.searchDirectory)/\(name)") else { return false }
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            let next = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch argument {
            case "-M", "--machine": if next == name { return true }
            default: if argument == "--machine=\(name)" || argument == "-M\(name)" { return true }
            }
            index += 1
        }
        return false
    }

    /// The directory given with `-D`, `--directory` (last one wins, as in nspawn).
    var directory: String? {
        var found: String?
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-D" || argument == "--directory", index + 1 < arguments.count {
                found = arguments[index + 1]
                index += 1
            } else if argument.hasPrefix("--directory=") {
                found = String(argument.dropFirst("--directory=".count))
            } else if argument.hasPrefix("-D"), argument.count > 2 {
                found = String(argument.dropFirst(2))
            }
            index += 1
        }
        return found
    }
}
