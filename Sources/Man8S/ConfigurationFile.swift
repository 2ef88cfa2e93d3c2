import Foundation

/// mbctl's configuration file (`/etc/mbctl/config.toml`): every path of the host layout, the
/// bridge, the default template and prefix, and registry defaults. A small subset of TOML:
/// `[section]` headers, `key = "string" | integer | true | false`, `#` comments. Unknown
/// sections and keys are errors naming the line, so a typo does not go unnoticed.
///
/// ```toml
/// [paths]
/// machines = "/var/lib/man8machines"
/// systemd_machines = "/var/lib/machines"
/// nspawn = "/etc/systemd/nspawn"
/// systemd_units = "/etc/systemd/system"
/// configs = "/var/lib/man8machine_configs"
/// storage = "/var/lib/man8machine_storage"
/// cache = "/var/tmp/man8s"
/// busybox = "/bin/busybox"
///
/// [network]
/// bridge = "srvgrp0"
/// prefix = "300:2e98:a4b0:1789::/64"
///
/// [machines]
/// template = "network_isolated"
/// keep_generations = 1
/// rootfs = "auto"             # or "snapshot" (btrfs), "reflink" (FICLONE), "unpack"
///
/// [registry]
/// tls_verify = true
/// cert_dir = "/etc/containers/certs.d/registry.example"
/// authfile = "/root/.config/containers/auth.json"
/// jobs = 4
/// ```
public struct ConfigurationFile: Sendable, Equatable {
    public var layout = HostLayout()
    public var prefix: String?
    public var template = "network_isolated"
    public var tlsVerify: Bool?
    public var certDirectory: String?
    public var authFile: String?
    public var jobs: Int?
    /// Generations a machine keeps for `machines rollback`.
    public var keepGenerations = 1
    /// How machines' rootfses are made; nil: the cheapest the file system allows.
    public var rootfsMethod: RootfsMethod?

    public static let defaultPath = "/etc/mbctl/config.toml"

    public init() {}

    /// Reads `path`; a missing file is the defaults unless `required`.
    public init(path: String, required: Bool) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            if required || FileManager.default.fileExists(atPath: path) {
                throw Man8SError.configuration(path: path, line: 0, reason: "cannot read it")
            }
            self.init()
            return
        }
        try self.init(text: text, path: path)
    }

    public init(text: String, path: String) throws {
        self.init()
        var section = ""
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            func fail(_ reason: String) -> Man8SError { .configuration(path: path, line: number + 1, reason: reason) }
            let line = Self.stripComment(String(rawLine)).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail("a section header must end with ]") }
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                guard ["paths", "network", "machines", "registry"].contains(section) else { throw fail("unknown section [\(section)]") }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected key = value") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = try Self.value(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces), fail: fail)
            func string() throws -> String {
                guard case .string(let text) = value else { throw fail("\(key) takes a \"string\"") }
                return text
            }
            switch (section, key) {
            case ("paths", "machines"): layout.machines = try string()
            case ("paths", "systemd_machines"): layout.systemdMachines = try string()
            case ("paths", "nspawn"): layout.nspawnFiles = try string()
            case ("paths", "configs"): layout.configs = try string()
            case ("paths", "storage"): layout.storage = try string()
            case ("paths", "cache"): layout.cache = try string()
            case ("paths", "busybox"): layout.busybox = try string()
            case ("network", "bridge"): layout.bridge = try string()
            case ("network", "prefix"): prefix = try string()
            case ("machines", "template"): template = try string()
            case ("machines", "keep_generations"):
                guard case .integer(let count) = value, (1...16).contains(count) else { throw fail("keep_generations takes a number from 1 to 16") }
                keepGenerations = count
            case ("paths", "systemd_units"): layout.systemdUnits = try string()
            case ("machines", "rootfs"):
                let text = try string()
                guard text == "auto" || RootfsMethod(rawValue: text) != nil else { throw fail("rootfs takes \"auto\", \"snapshot\", \"reflink\" or \"unpack\"") }
                rootfsMethod = RootfsMethod(rawValue: text)
            case ("registry", "cert_dir"): certDirectory = try string()
            case ("registry", "authfile"): authFile = try string()
            case ("registry", "tls_verify"):
                guard case .bool(let flag) = value else { throw fail("tls_verify takes true or false") }
                tlsVerify = flag
            case ("registry", "jobs"):
                guard case .integer(let count) = value, (1...64).contains(count) else { throw fail("jobs takes a number from 1 to 64") }
                jobs = count
            default:
                throw fail(section.isEmpty ? "\(key) is outside any section" : "unknown key \(key) in [\(section)]")
            }
        }
    }

    enum Value: Equatable {
        case string(String), integer(Int), bool(Bool)
    }

    static func value(_ text: String, fail: (String) -> Man8SError) throws -> Value {
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        if let number = Int(text) { return .integer(number) }
        guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else { throw fail("values are \"strings\", numbers, true or false") }
        var result = ""
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "\"", "\\": result.append(character)
                default: throw fail("unknown escape \\\(character)")
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                throw fail("a \" inside a string must be escaped")
            } else {
                result.append(character)
            }
        }
        guard !escaped else { throw fail("a string ends in a lone \\") }
        return .string(result)
    }

    /// The line without a `#` comment (a `#` inside a string stays).
    static func stripComment(_ line: String) -> String {
        var inString = false
        var escaped = false
        for (offset, character) in line.enumerated() {
            if escaped { escaped = false; continue }
            if character == "\\" && inString { escaped = true; continue }
            if character == "\"" { inString.toggle() }
            if character == "#" && !inString { return String(line.prefix(offset)) }
        }
        return line
    }
}
