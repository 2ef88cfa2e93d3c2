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
    }

    /// Names that have an nspawn file or a rootfs, sorted.
    public func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: layout.nspawnFiles)) ?? []
        let rootfses = (try? FileManager.default.contentsOfDirectory(atPath: layout.machines)) ?? []
        let names = files.filter { $0.hasSuffix(".nspawn") }.map { String($0.dropLast(".nspawn".count)) }
            + rootfses.filter { !$0.hasPrefix(".") }
        return Array(Set(names.filter { (try? MachineName($0)) != nil })).sorted()
    }

    public func entries() -> [Entry] {
        let running = RunningMachines.scan()
        let systemd = Systemd()
        let directories = try? MachineDirectories.openExisting(layout)
        return names().map { name in
            // A running machine can rewrite its own man8env.env: read it bounded, never through a link.
            let environment = directories?.environment(of: name) ?? []
            func value(_ key: String) -> String? { environment.last { $0.key == key }?.value }
            let rootfs = "\(layout.machines)/\(name)", link = "\(layout.systemdMachines)/\(name)"
            return Entry(
                name: name, image: value("MAN8S_OCI_IMAGE_URL"), digest: value("MAN8S_OCI_IMAGE_DIGEST"),
                address: value("MAN8S_YGGDRASIL_ADDRESS"),
                running: running.contains { $0.matches(name: name, directories: [rootfs, link]) },
                enabled: (try? MachineName(name)).flatMap { systemd.state($0) }.map { $0.file == "enabled" })
        }
    }
}
