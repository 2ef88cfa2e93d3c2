/// What `machines configure` (or `machines pull`) asks to change in a machine's settings.
public struct SettingsChange: Sendable {
    /// A setting given a new value, or cleared.
    public enum Value<T: Sendable>: Sendable {
        case set(T)
        case clear
    }

    public var addPorts: [PublishedPort] = []
    /// Host ports no longer published (one protocol, or both when nil).
    public var removePorts: [(hostPort: UInt16, portProtocol: PublishedPort.PortProtocol?)] = []
    public var removeAllPorts = false
    public var addRequires: [MachineName] = []
    public var removeRequires: [MachineName] = []
    public var memory: Value<UInt64>?
    public var cpuPercent: Value<Int>?
    public var pids: Value<Int>?
    public var dns: Value<ResolverChoice>?
    public var addHosts: [HostsEntry] = []
    /// Names whose added entries go.
    public var removeHosts: [String] = []
    public var removeAllHosts = false
    public var healthCommand: Value<String>?
    public var healthInterval: Int?
    public var healthTimeout: Int?
    public var healthStartPeriod: Int?
    public var healthRetries: Int?
    public var restartOnUnhealthy: Bool?
    /// The operator's `man8env.env` lines, all of them (`machines apply`).
    public var environment: [String: String]?
    public var autoUpdate: Bool?

    public init() {}

    /// `settings` with this change made. A port given twice, or a machine both required and
    /// not, is refused.
    public func applied(to settings: MachineSettings) throws -> MachineSettings {
        var result = settings
        if removeAllPorts { result.ports = [] }
        for removal in removePorts {
            result.ports.removeAll { $0.hostPort == removal.hostPort && (removal.portProtocol == nil || $0.portProtocol == removal.portProtocol) }
        }
        var given = Set<String>()
        for port in addPorts {
            guard given.insert("\(port.hostPort)/\(port.portProtocol.rawValue)").inserted else {
                throw Man8SError.invalidSetting("--port \(port)", reason: "host port \(port.hostPort)/\(port.portProtocol.rawValue) is given twice")
            }
            result.ports.removeAll { $0.hostPort == port.hostPort && $0.portProtocol == port.portProtocol }
            result.ports.append(port)
        }
        result.ports.sort { ($0.hostPort, $0.portProtocol.rawValue) < ($1.hostPort, $1.portProtocol.rawValue) }
        for name in removeRequires { result.requires.removeAll { $0 == name.value } }
        for name in addRequires {
            guard !removeRequires.contains(where: { $0.value == name.value }) else {
                throw Man8SError.invalidSetting("--require \(name)", reason: "\(name) is both required and not")
            }
            if !result.requires.contains(name.value) { result.requires.append(name.value) }
        }
        func changed<T>(_ value: Value<T>?, _ old: T?) -> T? {
            switch value {
            case .none: return old
            case .set(let new): return new
            case .clear: return nil
            }
        }
        result.limits.memory = changed(memory, settings.limits.memory)
        result.limits.cpuPercent = changed(cpuPercent, settings.limits.cpuPercent)
        result.limits.pids = changed(pids, settings.limits.pids)
        result.dns = changed(dns, settings.dns)
        if removeAllHosts { result.hosts = [] }
        for name in removeHosts { result.hosts.removeAll { $0.names.contains(name) } }
        var named = Set<String>()
        for entry in addHosts {
            for name in entry.names {
                guard named.insert(name).inserted, !removeHosts.contains(name) else {
                    throw Man8SError.invalidSetting("--add-host \(name)", reason: "\(name) is given twice, or both added and removed")
                }
            }
            result.hosts.removeAll { !Set($0.names).isDisjoint(with: entry.names) }
            result.hosts.append(entry)
        }
        result.health = try healthApplied(to: settings.health)
        if let environment {
            for (key, value) in environment { try EnvironmentFile.checkSetting(key: key, value: value) }
            result.environment = environment
        }
        result.autoUpdate = autoUpdate ?? result.autoUpdate
        return result
    }

    /// The health check after this change: the command set or cleared, then the timings.
    private func healthApplied(to health: HealthCheck?) throws -> HealthCheck? {
        var result = health
        switch healthCommand {
        case .none: break
        case .clear: result = nil
        case .set(let command):
            if result == nil { result = try HealthCheck(command: command) } else { result?.command = command }
        }
        let timings: [(String, Bool)] = [
            ("--health-interval", healthInterval != nil), ("--health-timeout", healthTimeout != nil),
            ("--health-start-period", healthStartPeriod != nil), ("--health-retries", healthRetries != nil),
            ("--restart-on-unhealthy", restartOnUnhealthy != nil),
        ]
        guard var check = result else {
            if let (option, _) = timings.first(where: \.1) {
                throw Man8SError.invalidSetting(option, reason: "the machine has no health check to time; give one with --health-cmd")
            }
            return nil
        }
        check.intervalMilliseconds = healthInterval ?? check.intervalMilliseconds
        check.timeoutMilliseconds = healthTimeout ?? check.timeoutMilliseconds
        check.startPeriodMilliseconds = healthStartPeriod ?? check.startPeriodMilliseconds
        check.retries = healthRetries ?? check.retries
        check.restartOnUnhealthy = restartOnUnhealthy ?? check.restartOnUnhealthy
        try check.validate()
        return check
    }
}
