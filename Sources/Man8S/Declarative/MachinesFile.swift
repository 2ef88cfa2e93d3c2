import TOMLDocument
import TOMLKit

/// `mbctl machines apply FILE`: the machines a host should have, one `[machines.NAME]` table
/// each, whose keys are `machines pull`'s options:
///
/// ```toml
/// [machines.web]
/// image = "docker.io/library/nginx:1.27"
/// volumes = ["/usr/share/nginx/html=data"]
/// env = { GREETING = "hello" }
/// ports = ["8080:80"]
/// requires = ["db"]
/// health_cmd = "wget -q -O /dev/null http://127.0.0.1/"
/// ```
///
/// Read whole before anything changes: an unknown key, a value of the wrong type or one the
/// option would refuse is an error naming the file, its line and the key.
public struct MachinesFile: Sendable {
    /// The machines, in the order of the file.
    public var machines: [MachineSpec]

    static let keys: [String: String] = [
        "image": "the image, as machines pull takes it (required)",
        "volumes": "[\"/path=config|data|skip|/host/path\", …]",
        "env": "{ KEY = \"value\", … }: lines of the machine's man8env.env",
        "ports": "[\"HOSTPORT:MACHINEPORT[/tcp|/udp]\", …]",
        "requires": "[\"NAME\", …]",
        "dns": "\"host\", an address or a machine's name",
        "hosts": "[\"NAME:ADDRESS\", …]",
        "memory": "\"BYTES[K|M|G]\"",
        "cpus": "a number of CPUs, fractions allowed",
        "pids_limit": "a number of processes",
        "health_cmd": "a command",
        "health_interval": "a duration, as \"30s\"",
        "health_timeout": "a duration, as \"30s\"",
        "health_start_period": "a duration, as \"30s\"",
        "health_retries": "a number of checks",
        "restart_on_unhealthy": "true or false",
        "auto_update": "\"registry\" or \"off\"",
        "enabled": "true or false (default true: started, and with the host)",
    ]

    /// Reads `text` (the file at `path`, for messages).
    public init(text: String, path: String) throws {
        let (document, lines): (TOMLTable, [[String]: Int])
        do {
            (document, lines) = try TOMLDocument.tableWithLines(parsing: text)
        } catch {
            throw Man8SError.configuration(path: path, line: error.line, reason: error.reason)
        }
        func fail(_ keyPath: [String], _ reason: String) -> Man8SError {
            // The line of the key, else of the nearest enclosing table that has one.
            var probe = keyPath
            while !probe.isEmpty, lines[probe] == nil { probe.removeLast() }
            return .configuration(path: path, line: lines[probe] ?? 1, reason: reason)
        }
        for key in document.keys where key != "machines" {
            throw fail([key], "unknown key \(key): the file holds [machines.NAME] tables")
        }
        guard let table = document["machines"]?.table else {
            throw fail(["machines"], document["machines"] == nil ? "no [machines.NAME] table" : "machines is a table of [machines.NAME] tables")
        }
        var machines: [MachineSpec] = []
        for name in table.keys {
            let path = ["machines", name]
            guard let machine = table[name]?.table else { throw fail(path, "machines.\(name) is a table: [machines.\(name)]") }
            let machineName: MachineName
            do {
                machineName = try MachineName(name)
            } catch {
                throw fail(path, "\(error)")
            }
            machines.append(try Self.spec(machineName, from: machine, line: lines[path] ?? 1) { key, reason in fail(path + [key], reason) })
        }
        self.machines = machines.sorted { $0.line < $1.line }
    }

    /// The spec in `table`; `fail(key, reason)` makes the error for a key.
    private static func spec(_ name: MachineName, from table: TOMLTable, line: Int, fail: (String, String) -> Man8SError) throws -> MachineSpec {
        for key in table.keys where keys[key] == nil {
            throw fail(key, "unknown key \(key) in [machines.\(name)] (known: \(keys.keys.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let text = value.string else { throw fail(key, "\(key) takes \(keys[key] ?? "a string")") }
            return text
        }
        func strings(_ key: String) throws -> [String] {
            guard let value = table[key] else { return [] }
            guard let array = value.array else { throw fail(key, "\(key) takes \(keys[key] ?? "a list of strings")") }
            return try array.map { element in
                guard let text = element.string else { throw fail(key, "\(key) takes \(keys[key] ?? "a list of strings")") }
                return text
            }
        }
        func integer(_ key: String) throws -> Int? {
            guard let value = table[key] else { return nil }
            guard let number = value.int else { throw fail(key, "\(key) takes \(keys[key] ?? "a number")") }
            return number
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = table[key] else { return nil }
            guard let flag = value.bool else { throw fail(key, "\(key) takes true or false") }
            return flag
        }
        /// The option's own parsing, its refusal named by the key.
        func checked<T>(_ key: String, _ parse: () throws -> T) throws -> T {
            do {
                return try parse()
            } catch let error as Man8SError {
                throw fail(key, "\(key): \(error)")
            }
        }

        guard let image = try string("image") else { throw fail("image", "[machines.\(name)] has no image") }
        var volumes: [String: VolumeChoice] = [:]
        for text in try strings("volumes") {
            let (path, choice) = try checked("volumes") { try VolumeChoice.parseFlag(text) }
            volumes[path] = choice
        }
        var change = SettingsChange()
        change.addPorts = try strings("ports").map { text in try checked("ports") { try PublishedPort(parsing: text) } }
        change.addRequires = try strings("requires").map { text in try checked("requires") { try MachineName(text) } }
        if let dns = try string("dns") { change.dns = .set(try checked("dns") { try ResolverChoice(parsing: dns) }) }
        change.addHosts = try strings("hosts").map { text in try checked("hosts") { try HostsEntry(parsing: text) } }
        if let memory = try string("memory") { change.memory = .set(try checked("memory") { try ResourceLimits.parseMemory(memory) }) }
        if let value = table["cpus"] {
            guard let cpus = value.double ?? value.int.map(Double.init) ?? value.string.flatMap(Double.init) else { throw fail("cpus", "cpus takes a number") }
            change.cpuPercent = .set(try checked("cpus") { try ResourceLimits.parseCPUs(String(cpus)) })
        }
        if let pids = try integer("pids_limit") { change.pids = .set(try checked("pids_limit") { try ResourceLimits.parsePids(String(pids)) }) }
        if let command = try string("health_cmd") { change.healthCommand = .set(command) }
        for (key, apply) in [
            ("health_interval", { (change: inout SettingsChange, value: Int) in change.healthInterval = value }),
            ("health_timeout", { (change: inout SettingsChange, value: Int) in change.healthTimeout = value }),
            ("health_start_period", { (change: inout SettingsChange, value: Int) in change.healthStartPeriod = value }),
        ] {
            if let text = try string(key) { apply(&change, try checked(key) { try HealthCheck.parseDuration(text, option: key) }) }
        }
        change.healthRetries = try integer("health_retries")
        change.restartOnUnhealthy = try flag("restart_on_unhealthy")
        if let text = try string("auto_update") { change.autoUpdate = try checked("auto_update") { try MachineSettings.parseAutoUpdate(text) } }
        if let value = table["env"] {
            guard let env = value.table else { throw fail("env", "env takes \(keys["env"] ?? "a table")") }
            var environment: [String: String] = [:]
            for key in env.keys {
                guard let text = env[key]?.string else { throw fail("env", "env.\(key) takes a string") }
                try checked("env") { try EnvironmentFile.checkSetting(key: key, value: text) }
                environment[key] = text
            }
            change.environment = environment
        }
        let settings = try checked("health_cmd") { try change.applied(to: MachineSettings()) }
        return MachineSpec(name: name, image: image, volumes: volumes, settings: settings, enabled: try flag("enabled") ?? true, line: line)
    }
}
