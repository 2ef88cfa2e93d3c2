/// Whether a machine's settings can hold on this host, checked before anything is written:
/// every machine it requires (or resolves through) exists and requiring it makes no cycle, no
/// other machine publishes
/// the same host port, and (on the running host) published ports can be forwarded at all.
struct SettingsCheck {
    let directories: MachineDirectories
    /// Whether this is the running host, whose forwarding and bridge can be looked at (with
    /// `--root`, another host's tree is being prepared).
    let checksHost: Bool

    func check(_ settings: MachineSettings, for name: MachineName, publishingNew: Bool) throws {
        let others = try MachineSettings.ofOthers(than: name, in: directories)
        for required in settings.requires {
            guard required != name.value else { throw Man8SError.invalidSetting("--require \(required)", reason: "a machine cannot require itself") }
            guard let machine = try? MachineName(required), try directories.exists(machine) else {
                throw Man8SError.invalidSetting("--require \(required)", reason: "there is no machine \(required)")
            }
        }
        if case .machine(let server) = settings.dns {
            guard server != name else { throw Man8SError.invalidSetting("--dns \(server)", reason: "a machine cannot be its own DNS server") }
            guard try directories.exists(server) else { throw Man8SError.invalidSetting("--dns \(server)", reason: "there is no machine \(server)") }
            guard (try directories.record(of: server))?.yggdrasilAddress != nil else {
                throw Man8SError.invalidSetting("--dns \(server)", reason: "mbctl has no record of machine \(server)'s address (made by another tool?)")
            }
        }
        if let cycle = Self.cycle(from: name.value, requiring: settings.requires, others: others.mapValues(\.requires)) {
            throw Man8SError.invalidSetting(
                "--require \(cycle[1])", reason: "it would make machines require each other in a circle: \(cycle.joined(separator: " → "))")
        }
        for port in settings.ports {
            if let (other, _) = others.first(where: { $0.value.ports.contains { $0.hostPort == port.hostPort && $0.portProtocol == port.portProtocol } }) {
                throw Man8SError.invalidSetting(
                    "--port \(port)", reason: "machine \(other) publishes host port \(port.hostPort)/\(port.portProtocol.rawValue) already")
            }
        }
        if publishingNew, checksHost {
            let missing = PortForwarding.missing(bridge: directories.layout.bridge)
            guard missing.isEmpty else {
                throw Man8SError.invalidSetting(
                    "--port \(settings.ports.map(\.description).joined(separator: " "))",
                    reason: "a published port cannot work on this host: " + missing.joined(separator: "; "))
            }
        }
    }

    /// A path of requirements from `start` back to itself, when `start` requires `requiring`
    /// and the others what they do: `[start, …, start]`.
    static func cycle(from start: String, requiring: [String], others: [String: [String]]) -> [String]? {
        var visited = Set<String>()
        func walk(_ path: [String]) -> [String]? {
            guard let last = path.last else { return nil }
            let next = last == start && path.count == 1 ? requiring : others[last] ?? []
            for machine in next {
                if machine == start { return path + [start] }
                guard visited.insert(machine).inserted else { continue }
                if let found = walk(path + [machine]) { return found }
            }
            return nil
        }
        return walk([start])
    }
}
