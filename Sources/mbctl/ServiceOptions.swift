import ArgumentParser
import Man8S

/// The options that make a machine a service, shared by `machines pull` and `machines
/// configure`.
struct ServiceOptions: ParsableArguments {
    @Option(
        name: .customLong("port"), parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Publish a host port to a port of the machine (repeatable; with configure, -HOSTPORT[/PROTOCOL] stops publishing one).",
            valueName: "hostport:machineport[/tcp|/udp]"))
    var ports: [String] = []

    @Option(
        name: .customLong("require"),
        help: ArgumentHelp("Start this machine after NAME, starting NAME first (repeatable).", valueName: "name"))
    var requires: [String] = []

    @Option(help: ArgumentHelp("The most memory the machine may use (MemoryMax=); none removes the limit.", valueName: "bytes[K|M|G]"))
    var memory: String?

    @Option(help: ArgumentHelp("How many CPUs' time the machine may use, fractions allowed (CPUQuota=); none removes the limit.", valueName: "n"))
    var cpus: String?

    @Option(name: .customLong("pids-limit"), help: ArgumentHelp("The most processes and threads (TasksMax=); none removes the limit.", valueName: "n"))
    var pidsLimit: String?

    @Option(
        help: ArgumentHelp(
            "Where the machine's DNS queries go: host (the host's resolv.conf), a server's address, or another machine (at its yggdrasil address); none: its DHCP lease's servers.",
            valueName: "host|address|machine"))
    var dns: String?

    @Option(
        name: .customLong("add-host"), parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Add NAME at ADDRESS to the machine's hosts file (repeatable; with configure, -NAME removes one).", valueName: "name:address"))
    var addHosts: [String] = []

    @Option(
        name: .customLong("health-cmd"),
        help: ArgumentHelp(
            "A command run inside the machine (by /bin/sh) to tell whether it is healthy: exit 0 is healthy; none removes the check.", valueName: "command"))
    var healthCommand: String?

    @Option(name: .customLong("health-interval"), help: ArgumentHelp("Time between checks (default 30s).", valueName: "duration"))
    var healthInterval: String?

    @Option(
        name: .customLong("health-timeout"), help: ArgumentHelp("How long a check may run before it counts as failed (default 30s).", valueName: "duration"))
    var healthTimeout: String?

    @Option(
        name: .customLong("health-start-period"),
        help: ArgumentHelp("Time after the machine starts in which failed checks do not count (default 0s).", valueName: "duration"))
    var healthStartPeriod: String?

    @Option(name: .customLong("health-retries"), help: ArgumentHelp("Failed checks in a row that make the machine unhealthy (default 3).", valueName: "n"))
    var healthRetries: String?

    @Flag(
        name: .customLong("restart-on-unhealthy"), inversion: .prefixedNo,
        help: "Restart the machine when it turns unhealthy (--no-restart-on-unhealthy: only log it to its journal).")
    var restartOnUnhealthy: Bool?

    @Option(
        name: .customLong("auto-update"),
        help: ArgumentHelp(
            "registry: unattended upgrades (machines auto-update) may upgrade it when its image's tag moves; off: never.", valueName: "registry|off"))
    var autoUpdate: String?

    /// Whether any of these options is given.
    var givesAny: Bool {
        !ports.isEmpty || !requires.isEmpty || memory != nil || cpus != nil || pidsLimit != nil || dns != nil || !addHosts.isEmpty
            || healthCommand != nil || healthInterval != nil || healthTimeout != nil || healthStartPeriod != nil || healthRetries != nil
            || restartOnUnhealthy != nil || autoUpdate != nil
    }

    /// The change these options ask for; with `removals`, `-HOSTPORT` and `none` are allowed.
    func change(allowingRemovals removals: Bool) throws -> SettingsChange {
        var change = SettingsChange()
        for text in ports {
            if text.hasPrefix("-") {
                guard removals else { throw ValidationError("--port \(text): a new machine publishes nothing yet to remove") }
                change.removePorts.append(try PublishedPort.parseRemoval(text))
            } else {
                change.addPorts.append(try PublishedPort(parsing: text))
            }
        }
        change.addRequires = try requires.map(MachineName.init)
        func limit<T>(_ text: String?, _ parse: (String) throws -> T) throws -> SettingsChange.Value<T>? {
            guard let text else { return nil }
            if text == "none" {
                guard removals else { return nil }
                return .clear
            }
            return .set(try parse(text))
        }
        change.memory = try limit(memory, ResourceLimits.parseMemory)
        change.cpuPercent = try limit(cpus, ResourceLimits.parseCPUs)
        change.pids = try limit(pidsLimit, ResourceLimits.parsePids)
        change.dns = try limit(dns, ResolverChoice.init(parsing:))
        // Checked with the rest of the health check when the change is made.
        change.healthCommand = try limit(healthCommand) { $0 }
        change.healthInterval = try healthInterval.map { try HealthCheck.parseDuration($0, option: "--health-interval") }
        change.healthTimeout = try healthTimeout.map { try HealthCheck.parseDuration($0, option: "--health-timeout") }
        change.healthStartPeriod = try healthStartPeriod.map { try HealthCheck.parseDuration($0, option: "--health-start-period") }
        change.healthRetries = try healthRetries.map { text in
            guard let retries = Int(text), !text.hasPrefix("+"), !text.hasPrefix("-") else {
                throw Man8SError.invalidSetting("--health-retries \(text)", reason: "it is a number of checks")
            }
            return retries
        }
        change.restartOnUnhealthy = restartOnUnhealthy
        change.autoUpdate = try autoUpdate.map(MachineSettings.parseAutoUpdate)
        for text in addHosts {
            if text.hasPrefix("-") {
                guard removals else { throw ValidationError("--add-host \(text): a new machine has no added host to remove") }
                change.removeHosts.append(String(text.dropFirst()))
            } else {
                change.addHosts.append(try HostsEntry(parsing: text))
            }
        }
        return change
    }
}
