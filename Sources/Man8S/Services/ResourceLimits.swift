/// What a machine's unit may use: `MemoryMax=`, `CPUQuota=` and `TasksMax=` on
/// `systemd-nspawn@NAME.service`, from Docker's `--memory`, `--cpus` and `--pids-limit`.
public struct ResourceLimits: Codable, Equatable, Sendable {
    /// Bytes of memory (`MemoryMax=`).
    public var memory: UInt64?
    /// Hundredths of a CPU (`--cpus 1.5` is 150; `CPUQuota=150%`).
    public var cpuPercent: Int?
    /// Processes and threads (`TasksMax=`).
    public var pids: Int?

    public init(memory: UInt64? = nil, cpuPercent: Int? = nil, pids: Int? = nil) {
        self.memory = memory
        self.cpuPercent = cpuPercent
        self.pids = pids
    }

    public var isEmpty: Bool { memory == nil && cpuPercent == nil && pids == nil }

    /// The least memory a machine may be given: its init and a shell need a few MiB (Docker
    /// refuses less than 6 MiB).
    public static let smallestMemory: UInt64 = 6 << 20

    /// `BYTES[K|M|G|T]` (binary multiples, as Docker reads them; a `b` or `B` after the unit is
    /// allowed).
    public static func parseMemory(_ text: String) throws -> UInt64 {
        var digits = Substring(text.lowercased())
        if digits.hasSuffix("b") { digits = digits.dropLast() }
        var shift: UInt64 = 0
        if let unit = digits.last, let found = ["k": 10, "m": 20, "g": 30, "t": 40][String(unit)] {
            shift = UInt64(found)
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.count <= 20, digits.allSatisfy(\.isASCIIDigit), let value = UInt64(digits) else {
            throw Man8SError.invalidSetting(text, reason: "memory is a number of bytes, with K, M, G or T for KiB, MiB, GiB or TiB")
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow, bytes <= 1 << 60 else { throw Man8SError.invalidSetting(text, reason: "that is more memory than any host has") }
        guard bytes >= smallestMemory else { throw Man8SError.invalidSetting(text, reason: "a machine needs at least 6M of memory") }
        return bytes
    }

    /// `N` CPUs, fractions allowed to a hundredth (`0.5`, `2`, `1.25`), as a percentage.
    public static func parseCPUs(_ text: String) throws -> Int {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard parts.count <= 2, !(whole.isEmpty && fraction.isEmpty), whole.count <= 4, fraction.count <= 2,
            whole.allSatisfy(\.isASCIIDigit), fraction.allSatisfy(\.isASCIIDigit)
        else {
            throw Man8SError.invalidSetting(text, reason: "CPUs are a number such as 2 or 0.5 (at most two decimals)")
        }
        let percent = (Int(whole) ?? 0) * 100 + (Int(fraction.padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0)
        guard percent >= 1 else { throw Man8SError.invalidSetting(text, reason: "a machine needs more than 0 CPUs") }
        return percent
    }

    /// The largest `TasksMax=` the kernel can hold (its pid_max limit).
    public static let largestPids = 4_194_304

    public static func parsePids(_ text: String) throws -> Int {
        guard !text.isEmpty, text.count <= 7, text.allSatisfy(\.isASCIIDigit), let value = Int(text), (1...largestPids).contains(value) else {
            throw Man8SError.invalidSetting(text, reason: "a pids limit is a number from 1 to \(largestPids)")
        }
        return value
    }

    /// Memory as `--memory` would give it back: the largest binary unit that divides it.
    public static func memoryText(_ bytes: UInt64) -> String {
        for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] where bytes % (1 << UInt64(shift)) == 0 {
            return "\(bytes >> UInt64(shift))\(unit)"
        }
        return "\(bytes)"
    }

    /// A percentage of CPUs as `--cpus` gives it: `1.5`, `2`, `0.05`.
    public static func cpusText(_ percent: Int) -> String {
        percent % 100 == 0
            ? "\(percent / 100)" : percent % 10 == 0 ? "\(percent / 100).\(percent % 100 / 10)" : "\(percent / 100).\(String(format: "%02d", percent % 100))"
    }

    /// The unit settings.
    var unitLines: [String] {
        var lines: [String] = []
        if let memory { lines.append("MemoryMax=\(memory)") }
        if let cpuPercent { lines.append("CPUQuota=\(cpuPercent)%") }
        if let pids { lines.append("TasksMax=\(pids)") }
        return lines
    }
}
