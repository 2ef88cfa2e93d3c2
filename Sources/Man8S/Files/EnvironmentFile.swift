import Foundation

/// The machine's `man8env.env` (docs/host-contract.md, section 5): `KEY=VALUE` lines, no quoting,
/// read by the machine's init, which splits each line at the first `=`.
public enum EnvironmentFile {
    /// Reads `KEY=VALUE` lines as init does (split at the first `=`; blank and `#` lines skipped).
    public static func parse(_ text: String) -> [(key: String, value: String)] {
        text.split(separator: "\n", omittingEmptySubsequences: true).compactMap { line in
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    /// `timeZone`: `MAN8S_MBCTL_CREATED_AT` is local time, as the Python mbctl wrote it.
    public static func render(_ machine: MachineDefinition, version: String, timeZone: TimeZone = .current) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        var entries: [(String, String)] = [
            ("MAN8S_CONTAINER_NAME", machine.name.value),
            ("MAN8S_CONTAINER_TEMPLATE", machine.template),
            ("MAN8S_YGGDRASIL_ADDRESS", machine.address.description),
            ("MAN8S_OCI_IMAGE_URL", machine.image),
            ("MAN8S_MBCTL_VERSION", version),
            ("MAN8S_MBCTL_CREATED_AT", formatter.string(from: machine.createdAt)),
            ("MAN8S_APPLICATION_ARGS", ShellQuoting.join(try machine.applicationArguments())),
        ]
        if let digest = machine.imageDigest {
            // Not in the Python mbctl's files; init exports it like any other line.
            entries.append(("MAN8S_OCI_IMAGE_DIGEST", digest))
        }
        for (key, value) in machine.imageEnvironment where !MachineDefinition.nspawnEnvironmentKeys.contains(key) {
            entries.append((key, value))
        }
        return try entries.map { key, value in
            guard !key.isEmpty, !key.hasPrefix("#"), !(key + value).contains(where: { $0.isNewline }) else {
                throw Man8SError.unrepresentable(
                    what: "environment variable \(key) to man8env.env", reason: "a KEY=VALUE line cannot hold a line break or start with #")
            }
            guard !(key + value).unicodeScalars.contains("\0") else {
                throw Man8SError.unrepresentable(what: "environment variable \(key) to man8env.env", reason: "a KEY=VALUE line cannot hold a NUL byte")
            }
            return "\(key)=\(value)"
        }.joined(separator: "\n") + "\n"
    }

    /// The `man8env.env` of an upgraded machine: what mbctl writes for the new image
    /// (`newlyWritten`), then every line of the `current` file that mbctl did not write last time
    /// (`previouslyWritten`): the lines the user added or changed, in their order, so that they
    /// still win (the init exports lines in order). Without `previouslyWritten` (a machine made
    /// before mbctl kept it), the user's lines are those that set no `MAN8S_` key and are not
    /// written anew.
    public static func merge(current: String, previouslyWritten: String?, newlyWritten: String) -> String {
        let written = Set((previouslyWritten ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        let fresh = Set(newlyWritten.split(separator: "\n").map(String.init))
        var users: [String] = []
        for line in current.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if written.contains(line) || fresh.contains(line) || line == userLinesHeader { continue }
            if previouslyWritten == nil, line.hasPrefix(MachineDefinition.reservedPrefix) { continue }
            users.append(line)
        }
        while users.last?.isEmpty == true { users.removeLast() }
        guard !users.isEmpty else { return newlyWritten }
        return newlyWritten + userLinesHeader + "\n" + users.joined(separator: "\n") + "\n"
    }

    static let userLinesHeader = "# Added or changed by the user, kept across upgrades:"

    /// `current` with the lines setting a key of `removing` or `adding` taken out, then
    /// `adding`'s lines (sorted by key) among the user's, so that they win.
    static func setting(_ adding: [String: String], removing: Set<String>, in current: String) -> String {
        let replaced = removing.union(adding.keys)
        var lines = current.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { line in
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return true }
            return !replaced.contains(String(line[..<equals]))
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        if !adding.isEmpty, !lines.contains(userLinesHeader) { lines.append(userLinesHeader) }
        lines += adding.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A variable the operator sets: a name of letters, digits and `_` (not starting with a
    /// digit, not `MAN8S_`, which is mbctl's), a value on one line.
    public static func checkSetting(key: String, value: String) throws {
        guard let first = key.unicodeScalars.first, !("0"..."9").contains(first),
            key.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") })
        else {
            throw Man8SError.invalidSetting("env \(key)", reason: "a variable's name is letters, digits and '_', not starting with a digit")
        }
        guard !key.hasPrefix(MachineDefinition.reservedPrefix) else {
            throw Man8SError.invalidSetting("env \(key)", reason: "MAN8S_ variables are mbctl's")
        }
        guard value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F || $0 == "\t" }) else {
            throw Man8SError.invalidSetting("env \(key)", reason: "a value cannot hold a line break or another control character")
        }
    }
}
