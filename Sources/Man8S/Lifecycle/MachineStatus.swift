import Foundation
import TrustPolicy

/// `mbctl machines show` and `status`: everything mbctl knows of a machine, from its files, its
/// generations and (where systemd runs the host) its unit.
public struct MachineStatus: Sendable {
    public var layout: HostLayout
    public var systemd = Systemd()

    public init(layout: HostLayout) {
        self.layout = layout
    }

    public struct Generation: Sendable, Codable, Equatable {
        public var number: Int
        public var image: String?
        public var digest: String?
        public var createdAt: Date?
        /// How the signature policy let the image in: one line ("not verified (no signature
        /// policy)" for generations made without one).
        public var verification: String
        /// The same, as recorded (nil: made without a policy).
        public var verificationDetails: ImageVerification?
    }

    public struct Volume: Sendable, Codable, Equatable {
        public var path: String
        public var hostPath: String
    }

    public struct Details: Sendable, Codable, Equatable {
        public var name: String
        public var address: String?
        public var image: String?
        public var digest: String?
        public var template: String?
        public var createdAt: String?
        public var running: Bool
        /// What systemd says of the machine's unit (nil where systemd does not run the host).
        public var unit: Systemd.UnitState?
        public var current: Generation
        /// Generations kept for rollback, newest first.
        public var previous: [Generation]
        public var volumes: [Volume]
        public var rootfs: String
        public var nspawnFile: String
        public var configDirectory: String
        public var dataDirectory: String
        /// Keys man8env.env sets that mbctl did not write: the user's settings.
        public var userSettings: [String]
        /// Ports, requirements and limits (``MachineSettings``).
        public var service: MachineSettings
        /// What its health check found in this run (nil: no check, or not running).
        public var health: HealthRecord.Status?
        /// The last check's exit status and output (escape before printing: the machine's).
        public var lastHealthCheck: HealthRecord?
    }

    public func details(_ name: MachineName) throws -> Details {
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        // What mbctl recorded; the machine's man8env.env only says which settings are the user's.
        let generations = try MachineGenerations.open(name, in: directories, create: false)
        let record = try generations?.current()
        func generation(_ number: Int, _ record: GenerationRecord?) -> Generation {
            Generation(
                number: number, image: record?.image, digest: record?.digest, createdAt: record?.createdAt,
                verification: (record?.verification ?? .notVerified).summary, verificationDetails: record?.verification)
        }
        let current = generation(record?.number ?? 1, record)
        let previous = (try generations?.previous() ?? []).map { number in generation(number, generations?.record(of: number)) }
        let written = Set(EnvironmentFile.parse(record?.written ?? "").map { "\($0.key)=\($0.value)" })
        let userSettings = directories.environment(of: name).filter {
            !written.contains("\($0.key)=\($0.value)") && (record != nil || !$0.key.hasPrefix(MachineDefinition.reservedPrefix))
        }.map(\.key)
        let volumes = (record?.mappings ?? NspawnFile.boundVolumes(in: directories, of: name)).map {
            Volume(path: $0.containerPath.description, hostPath: $0.hostPath)
        }
        let running = RunningMachines.isRunning(name, layout: layout)
        let settings = try MachineSettings.read(of: name, in: directories)
        let health = MachineHealth.status(of: name, checked: settings.health != nil, in: directories, running: running, systemd: systemd)
        return Details(
            name: name.value, address: record?.address, image: record?.image, digest: record?.digest,
            template: record.map { $0.template ?? "network_isolated" }, createdAt: record.map { ISO8601DateFormatter().string(from: $0.createdAt) },
            running: running, unit: systemd.state(name),
            current: current, previous: previous, volumes: volumes,
            rootfs: layout.rootfs(of: name), nspawnFile: layout.nspawnFile(of: name),
            configDirectory: layout.configDirectory(of: name), dataDirectory: layout.dataDirectory(of: name),
            userSettings: userSettings, service: settings, health: health,
            lastHealthCheck: health == nil ? nil : HealthRecord.read(of: name, in: directories))
    }
}
