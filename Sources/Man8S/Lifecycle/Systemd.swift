import Foundation

/// The host's systemd, as machinectl uses it: a machine is the unit
/// `systemd-nspawn@NAME.service` (systemd's own, which reads `/etc/systemd/nspawn/NAME.nspawn`),
/// started at boot when enabled with `machines.target`. Everything goes through `systemctl` and
/// `journalctl`; nothing here pretends when systemd does not run the host.
public struct Systemd: Sendable {
    public init() {}

    /// The unit of machine `name`.
    public static func unit(_ name: MachineName) -> String { "systemd-nspawn@\(name).service" }

    /// Whether systemd runs this host (what `sd_booted()` checks).
    public var isBooted: Bool {
        var info = stat()
        return lstat("/run/systemd/system", &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Refuses when systemd does not run this host.
    public func requireManaged(_ name: MachineName) throws {
        guard isBooted else {
            throw Man8SError.systemd(
                command: "systemctl",
                reason:
                    "systemd does not run this host (no /run/systemd/system), so it cannot manage machine \(name); boot it by hand with systemd-nspawn -M \(name) -D /var/lib/machines/\(name)"
            )
        }
    }

    public func start(_ name: MachineName) throws { try systemctl(["start", Self.unit(name)], for: name) }
    public func stop(_ name: MachineName) throws { try systemctl(["stop", Self.unit(name)], for: name) }
    public func restart(_ name: MachineName) throws { try systemctl(["restart", Self.unit(name)], for: name) }
    /// Starts machine `name`'s health watcher (`mbctl-health@NAME.service`), when it does not run.
    func startHealthWatcher(_ name: MachineName) throws { try systemctl(["start", MachineUnitDropIn.healthUnit(name)], for: name) }
    /// Queues a restart and returns (from a unit the restart stops, as the health watcher).
    func restartWithoutWaiting(_ name: MachineName) throws { try systemctl(["restart", "--no-block", Self.unit(name)], for: name) }

    /// The unit's `InvocationID` (new at each start); nil when it does not run, or systemd does
    /// not run the host.
    func invocation(of name: MachineName) -> String? {
        guard isBooted, let output = try? run(Self.systemctlPath, ["show", "--property=InvocationID", "--value", Self.unit(name)]) else { return nil }
        let invocation = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return invocation.isEmpty ? nil : invocation
    }
    /// As `machinectl enable`: the machine's unit, and `machines.target` that starts it at boot.
    public func enable(_ name: MachineName) throws { try systemctl(["enable", "machines.target", Self.unit(name)], for: name) }
    public func disable(_ name: MachineName) throws { try systemctl(["disable", Self.unit(name)], for: name) }
    /// Has systemd read unit files (and drop-ins) again.
    public func reload() throws {
        guard isBooted else { return }
        _ = try run(Self.systemctlPath, ["daemon-reload"])
    }

    /// What systemd says of the machine's unit.
    public struct UnitState: Sendable, Codable, Equatable {
        /// `active`, `inactive`, `failed`, `activating`…
        public var active: String
        /// `enabled`, `disabled`…
        public var file: String
        /// When it last became active, as systemd writes it (empty when never).
        public var since: String
    }

    /// The unit's state, nil when systemd does not run the host.
    public func state(_ name: MachineName) -> UnitState? {
        guard isBooted, let output = try? run(Self.systemctlPath, ["show", "--property=ActiveState,UnitFileState,ActiveEnterTimestamp", Self.unit(name)]) else {
            return nil
        }
        var properties: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            properties[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return UnitState(
            active: properties["ActiveState"] ?? "unknown", file: properties["UnitFileState"] ?? "unknown", since: properties["ActiveEnterTimestamp"] ?? "")
    }

    /// `journalctl` reading the machine's unit, for the CLI to run in its place.
    public func logsCommand(_ name: MachineName, follow: Bool) throws -> [String] {
        try requireManaged(name)
        guard let journalctl = Self.find("journalctl") else {
            throw Man8SError.systemd(command: "journalctl", reason: "journalctl is not installed")
        }
        return [journalctl, "--no-pager", "-u", Self.unit(name)] + (follow ? ["-f"] : [])
    }

    private func systemctl(_ arguments: [String], for name: MachineName) throws {
        try requireManaged(name)
        _ = try run(Self.systemctlPath, arguments)
    }

    static var systemctlPath: String { find("systemctl") ?? "/usr/bin/systemctl" }

    static func find(_ program: String) -> String? {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// How long one systemctl may take: a start waits for the machine's unit (its own start
    /// timeout is 90 s), never for a manager that stopped answering.
    static let deadline = 600

    /// Runs `program` to completion under ``deadline`` (coreutils' `timeout`); its standard
    /// output, or an error with what it said.
    private func run(_ program: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.find("timeout") ?? "/usr/bin/timeout")
        process.arguments = ["--kill-after=10", String(Self.deadline), program] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw Man8SError.systemd(command: ([program] + arguments).joined(separator: " "), reason: "cannot run it: \(error)")
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile().prefix(1 << 20), as: UTF8.self)
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile().prefix(4096), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            if process.terminationStatus == 124 || process.terminationStatus == 137 {
                throw Man8SError.systemd(
                    command: ([(program as NSString).lastPathComponent] + arguments).joined(separator: " "),
                    reason: "it did not finish within \(Self.deadline) seconds")
            }
            let said = complaint.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Man8SError.systemd(
                command: ([(program as NSString).lastPathComponent] + arguments).joined(separator: " "),
                reason: said.isEmpty ? "it exited with status \(process.terminationStatus)" : said)
        }
        return text
    }
}
