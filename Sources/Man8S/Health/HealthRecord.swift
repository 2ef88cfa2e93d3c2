import ConfinedFilesystem
import Foundation
import SystemErrors

/// What the health checks of a machine found last: kept by the watcher
/// (`mbctl-health@NAME.service`) in mbctl's records (`.generations/NAME/health.json`, mode 0600).
/// The output is the machine's, so it is shown with its control characters escaped.
public struct HealthRecord: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable {
        case starting, healthy, unhealthy
    }

    public var status: Status
    /// Failed checks in a row (those in the start period not counted).
    public var failingStreak: Int
    /// The machine unit's `InvocationID` these checks belong to: a record of an earlier run of
    /// the machine says nothing of this one.
    public var invocation: String
    public var checkedAt: Date?
    public var exitCode: Int32?
    /// The end of what the last check printed (at most ``largestOutput`` bytes).
    public var output: String?

    static let fileName = Array("health.json".utf8)
    static let largestOutput = 4096

    /// The record of `name`; nil when there is none (or it is not one the watcher wrote).
    static func read(of name: MachineName, in directories: MachineDirectories) -> HealthRecord? {
        guard let records = try? MachineGenerations.open(name, in: directories, create: false),
            let bytes = try? records.handle.readFile(fileName, limit: 1 << 16)
        else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(HealthRecord.self, from: Data(bytes))
    }

    func write(of name: MachineName, in directories: MachineDirectories) throws {
        guard let records = try MachineGenerations.open(name, in: directories, create: true) else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let bytes = Array(try encoder.encode(self))
        try naming("\(records.path)/health.json") { try records.handle.writeFile(Self.fileName, contents: bytes, mode: 0o600) }
    }
}
