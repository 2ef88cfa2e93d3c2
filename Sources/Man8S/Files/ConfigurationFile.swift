import Foundation
import TOMLDocument
import TOMLKit

/// mbctl's configuration file (`/etc/mbctl/config.toml`): every path of the host layout, the
/// bridge, the default template and prefix, and registry defaults. TOML, read with TOMLKit
/// (toml++); unknown sections and keys are errors naming the line, so a typo does not go
/// unnoticed.
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
    /// A registries.conf to read instead of the containers tools' files (`[registry] registries_conf`).
    public var registriesConf: String?
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
        let (document, lines): (TOMLTable, [[String]: Int])
        do {
            (document, lines) = try TOMLDocument.tableWithLines(parsing: text)
        } catch {
            throw Man8SError.configuration(path: path, line: error.line, reason: error.reason)
        }
        for section in document.keys {
            guard let table = document[section]?.table else {
                throw Man8SError.configuration(path: path, line: lines[[section]] ?? 0, reason: "\(section) is outside any section")
            }
            guard ["paths", "network", "machines", "registry"].contains(section) else {
                throw Man8SError.configuration(path: path, line: lines[[section]] ?? 0, reason: "unknown section [\(section)]")
            }
            for key in table.keys {
                let line = lines[[section, key]] ?? lines[[section]] ?? 0
                func fail(_ reason: String) -> Man8SError { .configuration(path: path, line: line, reason: reason) }
                let value = table[key]
                func string() throws -> String {
                    guard let text = value?.string else { throw fail("\(key) takes a \"string\"") }
                    return text
                }
                func integer(_ range: ClosedRange<Int>) throws -> Int {
                    guard let number = value?.int, range.contains(number) else {
                        throw fail("\(key) takes a number from \(range.lowerBound) to \(range.upperBound)")
                    }
                    return number
                }
                switch (section, key) {
                case ("paths", "machines"): layout.machines = try string()
                case ("paths", "systemd_machines"): layout.systemdMachines = try string()
                case ("paths", "nspawn"): layout.nspawnFiles = try string()
                case ("paths", "systemd_units"): layout.systemdUnits = try string()
                case ("paths", "configs"): layout.configs = try string()
                case ("paths", "storage"): layout.storage = try string()
                case ("paths", "cache"): layout.cache = try string()
                case ("paths", "busybox"): layout.busybox = try string()
                case ("network", "bridge"): layout.bridge = try string()
                case ("network", "prefix"): prefix = try string()
                case ("machines", "template"): template = try string()
                case ("machines", "keep_generations"): keepGenerations = try integer(1...16)
                case ("machines", "rootfs"):
                    let text = try string()
                    guard text == "auto" || RootfsMethod(rawValue: text) != nil else {
                        throw fail("rootfs takes \"auto\", \"snapshot\", \"reflink\" or \"unpack\"")
                    }
                    rootfsMethod = RootfsMethod(rawValue: text)
                case ("registry", "cert_dir"): certDirectory = try string()
                case ("registry", "authfile"): authFile = try string()
                case ("registry", "registries_conf"): registriesConf = try string()
                case ("registry", "tls_verify"):
                    guard let flag = value?.bool else { throw fail("tls_verify takes true or false") }
                    tlsVerify = flag
                case ("registry", "jobs"): jobs = try integer(1...64)
                default:
                    throw fail("unknown key \(key) in [\(section)]")
                }
            }
        }
    }
}
