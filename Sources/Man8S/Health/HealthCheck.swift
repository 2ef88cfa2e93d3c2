/// A machine's health check, with Docker's names and defaults: `command` runs inside the
/// machine (`/bin/sh -c`, as Docker's `CMD-SHELL`) every `interval`; a run that exits 0 within
/// `timeout` passes. Failures during `startPeriod` after the machine starts do not count; the
/// machine is unhealthy after `retries` failures in a row, healthy after any pass.
public struct HealthCheck: Codable, Equatable, Sendable {
    public var command: String
    public var intervalMilliseconds = 30_000
    public var timeoutMilliseconds = 30_000
    public var startPeriodMilliseconds = 0
    public var retries = 3
    /// Whether a machine that turns unhealthy is restarted.
    public var restartOnUnhealthy = false

    public init(command: String) throws {
        try Self.checkCommand(command)
        self.command = command
    }

    /// The longest command mbctl keeps, and the longest interval, timeout and start period.
    static let longestCommand = 4096
    static let longestDuration = 86_400_000
    static let mostRetries = 1000

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        command = try container.decode(String.self, forKey: .command)
        intervalMilliseconds = try container.decode(Int.self, forKey: .intervalMilliseconds)
        timeoutMilliseconds = try container.decode(Int.self, forKey: .timeoutMilliseconds)
        startPeriodMilliseconds = try container.decode(Int.self, forKey: .startPeriodMilliseconds)
        retries = try container.decode(Int.self, forKey: .retries)
        restartOnUnhealthy = try container.decodeIfPresent(Bool.self, forKey: .restartOnUnhealthy) ?? false
        do {
            try validate()
        } catch let error as Man8SError {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    /// Holds the values to what `--health-*` accepts.
    func validate() throws {
        try Self.checkCommand(command)
        for (option, value, least) in [
            ("--health-interval", intervalMilliseconds, 1000), ("--health-timeout", timeoutMilliseconds, 1000),
            ("--health-start-period", startPeriodMilliseconds, 0),
        ] where !(least...Self.longestDuration).contains(value) {
            throw Man8SError.invalidSetting("\(option) \(Self.durationText(value))", reason: "it is \(least == 0 ? "0s" : "1s") to 24h")
        }
        guard (1...Self.mostRetries).contains(retries) else {
            throw Man8SError.invalidSetting("--health-retries \(retries)", reason: "it is 1 to \(Self.mostRetries)")
        }
    }

    static func checkCommand(_ command: String) throws {
        guard !command.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw Man8SError.invalidSetting("--health-cmd", reason: "the command is empty")
        }
        guard command.utf8.count <= longestCommand else {
            throw Man8SError.invalidSetting("--health-cmd", reason: "the command is longer than \(longestCommand) bytes")
        }
        guard command.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F && !(0x80..<0xA0).contains($0.value) }) else {
            throw Man8SError.invalidSetting("--health-cmd", reason: "the command holds a control character (a line break, a tab, an escape)")
        }
    }

    /// A duration as Docker takes one (Go's): numbers with units `ms`, `s`, `m`, `h`, as `30s`,
    /// `1m30s`, `1.5s`; in milliseconds.
    public static func parseDuration(_ text: String, option: String) throws -> Int {
        let invalid = Man8SError.invalidSetting("\(option) \(text)", reason: "a duration is a number and a unit (ms, s, m, h), as 30s, 1m30s or 500ms")
        var total = 0.0, rest = Substring(text)
        guard !rest.isEmpty, rest.count <= 32 else { throw invalid }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCIIDigit || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard !number.isEmpty, number.first != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number) else { throw invalid }
            let scale: Double
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            default: throw invalid
            }
            total += value * scale
        }
        guard total <= Double(longestDuration) else {
            throw Man8SError.invalidSetting("\(option) \(text)", reason: "it is longer than 24h")
        }
        return Int(total.rounded())
    }

    /// `1m30s`, `500ms`, `0s`.
    public static func durationText(_ milliseconds: Int) -> String {
        guard milliseconds % 1000 == 0 else { return "\(milliseconds)ms" }
        let seconds = milliseconds / 1000
        let parts = [(seconds / 3600, "h"), (seconds % 3600 / 60, "m"), (seconds % 60, "s")].filter { $0.0 > 0 }
        return parts.isEmpty ? "0s" : parts.map { "\($0.0)\($0.1)" }.joined()
    }

    /// For people: `"curl -f localhost" every 30s (timeout 30s, 3 retries, restarts when unhealthy)`.
    public var summary: String {
        var details = ["timeout \(Self.durationText(timeoutMilliseconds))", "\(retries) retries"]
        if startPeriodMilliseconds > 0 { details.append("start period \(Self.durationText(startPeriodMilliseconds))") }
        if restartOnUnhealthy { details.append("restarts when unhealthy") }
        return "\"\(command)\" every \(Self.durationText(intervalMilliseconds)) (\(details.joined(separator: ", ")))"
    }
}
