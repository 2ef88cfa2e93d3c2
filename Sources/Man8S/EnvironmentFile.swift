import Foundation

/// The machine's `man8env.env` (man8s-system.md, section 5): `KEY=VALUE` lines, no quoting,
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
                throw Man8SError.unrepresentable(what: "environment variable \(key) to man8env.env", reason: "a KEY=VALUE line cannot hold a line break or start with #")
            }
            guard !(key + value).unicodeScalars.contains("\0") else {
                throw Man8SError.unrepresentable(what: "environment variable \(key) to man8env.env", reason: "a KEY=VALUE line cannot hold a NUL byte")
            }
            return "\(key)=\(value)"
        }.joined(separator: "\n") + "\n"
    }
}
