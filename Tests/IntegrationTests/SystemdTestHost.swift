import Foundation

/// A host run by systemd, for the commands that drive machines' units: this machine's own tree
/// booted with `systemd-nspawn -b --volatile=yes` in the network namespace of a ``TestNetwork``
/// (whose bridge the machines join), with cgroup2 mounted first. The Man8S directories, unit
/// files and nspawn files are bound from `state`, so they outlive a reboot of the test host;
/// the toolchain and mbctl are bound read-only. Commands run inside through `nsenter`.
///
/// Never bind /tmp into it: the booted systemd cleans /tmp.
final class SystemdTestHost {
    let network: TestNetwork
    let state: String
    let name = "mbctl-systemd-\(UUID().uuidString.prefix(6).lowercased())"
    private(set) var process: BackgroundProcess?
    private var boots = 0

    /// Directories of the test host kept in `state` across its reboots.
    static let persistent = [
        "/var/lib/man8machines", "/var/lib/machines", "/var/lib/man8machine_configs", "/var/lib/man8machine_storage",
        "/etc/systemd/nspawn", "/etc/systemd/system",
    ]

    init(network: TestNetwork, state: String) throws {
        self.network = network
        self.state = state
        for path in Self.persistent { try FileManager.default.createDirectory(atPath: state + path, withIntermediateDirectories: true) }
        try boot()
    }

    deinit { stop() }

    /// Boots the test host and waits until systemd says it is up.
    func boot() throws {
        boots += 1
        let build = URL(fileURLWithPath: TestPaths.mbctl).deletingLastPathComponent().path
        let binds =
            ["--bind-ro=/opt/swift", "--bind-ro=/etc/ssl", "--bind-ro=\(build)", "--bind-ro=\(TestPaths.fixtures)", "--bind=\(state)"]
            + Self.persistent.map { "--bind=\(state)\($0):\($0)" }
        let command =
            (["exec", "systemd-nspawn", "-b", "--volatile=yes", "--capability=all", "-D", "/", "--machine=\(name)", "--register=no", "--keep-unit"]
            + binds + ["systemd.firstboot=off"]).joined(separator: " ")
        process = try BackgroundProcess(
            ["ip", "netns", "exec", network.namespace, "unshare", "-m", "sh", "-c", "mount -t cgroup2 none /sys/fs/cgroup && \(command)"],
            logPath: "\(state)/console-\(boots).log")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let result = try? run(["systemctl", "is-system-running", "--wait"]),
                ["running", "degraded"].contains(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return
            }
            usleep(200_000)
        }
        throw TestCommandError.failed("boot the systemd test host", CommandResult(status: -1, stdout: "", stderr: process?.log ?? ""))
    }

    /// The test host's PID 1, seen from here.
    var initProcess: Int32? {
        guard let nspawn = process?.process.processIdentifier else { return nil }
        // ip netns exec and unshare exec in turn: the nspawn is a child or a grandchild.
        for candidate in [nspawn] + Self.children(of: nspawn) {
            for child in Self.children(of: candidate) where (try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8))?.hasPrefix("systemd") == true
            {
                return child
            }
        }
        return nil
    }

    static func children(of pid: Int32) -> [Int32] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Runs a command inside the test host.
    @discardableResult
    func run(_ arguments: [String], check: Bool = false) throws -> CommandResult {
        guard let pid = initProcess else {
            throw TestCommandError.failed(arguments.joined(separator: " "), CommandResult(status: -1, stdout: "", stderr: "the test host is not up"))
        }
        return try runCommand(["nsenter", "-t", "\(pid)", "-a"] + arguments, check: check)
    }

    /// Runs mbctl inside the test host, on its own (persistent) Man8S directories.
    func mbctl(_ arguments: [String]) throws -> CommandResult {
        try run([TestPaths.mbctl] + arguments)
    }

    /// Powers the test host off (its machines with it) and waits for it to be gone.
    func powerOff() {
        _ = try? run(["systemctl", "poweroff"])
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && process?.process.isRunning == true { usleep(100_000) }
        stop()
    }

    func stop() {
        process?.stop(abruptly: true)
        process = nil
    }
}
