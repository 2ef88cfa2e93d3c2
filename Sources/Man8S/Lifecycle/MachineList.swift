import Foundation

/// The machines of a host, read from its directories (no daemon to ask): a machine is a name
/// with an nspawn file or a rootfs.
public struct MachineList: Sendable {
    public var layout: HostLayout

    public init(layout: HostLayout) {
        self.layout = layout
    }

    /// One machine, as `machines list` shows it.
    public struct Entry: Sendable, Codable, Equatable {
        public var name: String
        public var image: String?
        public var digest: String?
        public var address: String?
        public var running: Bool
        /// Whether its unit starts when the host boots; nil where systemd does not run the host.
        public var enabled: Bool?
        /// Why mbctl cannot say what the machine was made from: it has no record (made by an
        /// older mbctl), or its record is damaged. Nil when image, digest and address are mbctl's.
        public var unrecorded: String?
        /// `starting`, `healthy` or `unhealthy` while it runs with a health check; nil otherwise.
        public var health: HealthRecord.Status?
        /// Whether `machines auto-update` upgrades it (`--auto-update registry`).
        public var autoUpdate = false
    }

    /// Names that have an nspawn file or a rootfs, sorted.
    public func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: layout.nspawnFiles)) ?? []
        let rootfses = (try? FileManager.default.contentsOfDirectory(atPath: layout.machines)) ?? []
        let names =
            files.filter { $0.hasSuffix(".nspawn") }.map { String($0.dropLast(".nspawn".count)) }
            + rootfses.filter { !$0.hasPrefix(".") }
        return Array(Set(names.filter { (try? MachineName($0)) != nil })).sorted()
    }

    public func entries() -> [Entry] {
        let running = RunningMachines.scan()
        let systemd = Systemd()
        let directories = try? MachineDirectories.openExisting(layout)
        return names().compactMap { name in
            guard let machine = try? MachineName(name) else { return nil }
            // Image, digest and address are mbctl's records, never what the machine wrote into
            // its own man8env.env.
            var record: GenerationRecord?, unrecorded: String?
            do {
                record = try directories?.record(of: machine)
                if record == nil { unrecorded = "no record (made by an older mbctl)" }
            } catch {
                unrecorded = "\(error)"
            }
            let rootfs = "\(layout.machines)/\(name)", link = "\(layout.systemdMachines)/\(name)"
            let isRunning = running.contains { $0.matches(name: name, directories: [rootfs, link]) }
            let settings = directories.flatMap { try? MachineSettings.read(of: machine, in: $0) }
            return Entry(
                name: name, image: record?.image, digest: record?.digest, address: record?.address, running: isRunning,
                enabled: systemd.state(machine).map { $0.file == "enabled" }, unrecorded: unrecorded,
                health: directories.flatMap {
                    MachineHealth.status(of: machine, checked: settings?.health != nil, in: $0, running: isRunning, systemd: systemd)
                },
                autoUpdate: settings?.autoUpdate ?? false)
        }
    }
}
