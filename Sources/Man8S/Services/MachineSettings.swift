import ConfinedFilesystem
import Foundation
import SystemErrors

/// What makes a machine a service, as the operator set it with `machines pull` and `machines
/// configure`: published ports, the machines it requires, resource limits, its DNS server, the
/// hosts added to its hosts file, and its health check.
///
/// A record of mbctl's own (`.generations/NAME/settings.json`, mode 0600, in the private
/// machines directory), per machine rather than per generation: an upgrade or a rollback keeps
/// the settings the operator gave last. The files systemd reads are written from it (the
/// `Port=` lines of `NAME.nspawn`, the unit drop-in) and never read back.
public struct MachineSettings: Codable, Equatable, Sendable {
    public var ports: [PublishedPort] = []
    /// Machines started before this one, and stopped if they stop (`Requires=` + `After=`).
    public var requires: [String] = []
    public var limits = ResourceLimits()
    /// Where its DNS queries go; nil: what nspawn copies in and its DHCP lease names.
    public var dns: ResolverChoice?
    /// Entries of its hosts file given by the operator (`--add-host`).
    public var hosts: [HostsEntry] = []
    public var health: HealthCheck?
    /// Lines of its `man8env.env` given by the operator (`env` of `machines apply`), by key.
    public var environment: [String: String] = [:]
    /// Whether unattended upgrades may upgrade it (`auto_update` of `machines apply`).
    public var autoUpdate = false

    public init(
        ports: [PublishedPort] = [], requires: [String] = [], limits: ResourceLimits = ResourceLimits(), dns: ResolverChoice? = nil,
        hosts: [HostsEntry] = [], health: HealthCheck? = nil
    ) {
        self.ports = ports
        self.requires = requires
        self.limits = limits
        self.dns = dns
        self.hosts = hosts
        self.health = health
    }

    /// Decodes a record, holding it to what `configure` accepts: the values go into unit files,
    /// so a record edited by hand cannot put a line break into one.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ports = try container.decodeIfPresent([PublishedPort].self, forKey: .ports) ?? []
        requires = try container.decodeIfPresent([String].self, forKey: .requires) ?? []
        limits = try container.decodeIfPresent(ResourceLimits.self, forKey: .limits) ?? ResourceLimits()
        dns = try container.decodeIfPresent(ResolverChoice.self, forKey: .dns)
        hosts = try container.decodeIfPresent([HostsEntry].self, forKey: .hosts) ?? []
        health = try container.decodeIfPresent(HealthCheck.self, forKey: .health)
        environment = try container.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        autoUpdate = try container.decodeIfPresent(Bool.self, forKey: .autoUpdate) ?? false
        for (key, value) in environment {
            do {
                try EnvironmentFile.checkSetting(key: key, value: value)
            } catch let error as Man8SError {
                throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: error.description))
            }
        }
        let invalid =
            ports.first { $0.hostPort == 0 || $0.machinePort == 0 }.map { "port \($0)" }
            ?? requires.first { (try? MachineName($0)) == nil }.map { "required machine \"\($0)\"" }
            ?? (limits.memory.map { $0 < ResourceLimits.smallestMemory } == true ? "memory" : nil)
            ?? (limits.cpuPercent.map { $0 < 1 } == true ? "cpus" : nil)
            ?? (limits.pids.map { !(1...ResourceLimits.largestPids).contains($0) } == true ? "pids limit" : nil)
        if let invalid {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: "its \(invalid) is not one mbctl sets"))
        }
    }

    public var isEmpty: Bool { self == MachineSettings() }

    /// `registry` (auto-update from the registry) or `off`, as `--auto-update` takes it.
    public static func parseAutoUpdate(_ text: String) throws -> Bool {
        switch text {
        case "registry": return true
        case "off": return false
        default: throw Man8SError.invalidSetting("--auto-update \(text)", reason: "it is registry or off")
        }
    }

    /// Whether this machine needs machine `name` to start (`--require`) or to resolve (`--dns`).
    func dependsOn(_ name: MachineName) -> Bool {
        requires.contains(name.value) || dns == .machine(name)
    }

    /// One phrase per setting, for people: "ports 8080:80/tcp", "requires db", "memory 512M".
    public var summary: [String] {
        var phrases: [String] = []
        if !ports.isEmpty { phrases.append("ports " + ports.map(\.description).joined(separator: " ")) }
        if !requires.isEmpty { phrases.append("requires " + requires.joined(separator: " ")) }
        if let memory = limits.memory { phrases.append("memory \(ResourceLimits.memoryText(memory))") }
        if let cpus = limits.cpuPercent { phrases.append("cpus \(ResourceLimits.cpusText(cpus))") }
        if let pids = limits.pids { phrases.append("pids limit \(pids)") }
        if let dns { phrases.append("dns \(dns)") }
        if !hosts.isEmpty { phrases.append("hosts " + hosts.map { "\($0.names.joined(separator: ",")):\($0.address)" }.joined(separator: " ")) }
        if let health { phrases.append("health \(health.summary)") }
        if !environment.isEmpty { phrases.append("environment " + environment.keys.sorted().joined(separator: " ")) }
        if autoUpdate { phrases.append("auto-update registry") }
        return phrases
    }

    static let fileName = Array("settings.json".utf8)
    static let largestRecord = 1 << 20

    /// The settings of `name` (none set: empty settings). A record that is a link, a FIFO or
    /// does not decode is an error naming it.
    static func read(of name: MachineName, in directories: MachineDirectories) throws -> MachineSettings {
        guard let generations = try MachineGenerations.open(name, in: directories, create: false) else { return MachineSettings() }
        let path = "\(generations.path)/settings.json"
        let bytes: [UInt8]?
        do {
            bytes = try generations.handle.readFile(fileName, limit: largestRecord + 1)
        } catch let error as SystemCallError {
            throw Man8SError.damagedRecord(path: path, reason: error.description)
        } catch let error as UnexpectedFileKind {
            throw Man8SError.damagedRecord(path: path, reason: "it is \(error.kind), not \(error.expected)")
        }
        guard let bytes else { return MachineSettings() }
        guard bytes.count <= largestRecord else { throw Man8SError.damagedRecord(path: path, reason: "it is larger than 1 MiB") }
        do {
            return try JSONDecoder().decode(MachineSettings.self, from: Data(bytes))
        } catch {
            throw Man8SError.damagedRecord(path: path, reason: "it is not a settings record mbctl wrote (\(error))")
        }
    }

    /// The settings of every machine on the host but `name`, by machine name.
    static func ofOthers(than name: MachineName, in directories: MachineDirectories) throws -> [String: MachineSettings] {
        var settings: [String: MachineSettings] = [:]
        for other in MachineList(layout: directories.layout).names() where other != name.value {
            guard let machine = try? MachineName(other) else { continue }
            settings[other] = try read(of: machine, in: directories)
        }
        return settings
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Writes the record of `name` (whole: a new file renamed over the old one).
    func write(of name: MachineName, in directories: MachineDirectories) throws {
        guard let generations = try MachineGenerations.open(name, in: directories, create: true) else { return }
        try naming("\(generations.path)/settings.json") { try generations.handle.writeFile(Self.fileName, contents: try encoded(), mode: 0o600) }
    }
}
