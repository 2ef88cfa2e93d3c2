/// The machine's `/etc/systemd/nspawn/NAME.nspawn` (docs/host-contract.md, section 4): how
/// systemd-nspawn boots it with the busybox init, on the bridge, with its volumes bound in.
public enum NspawnFile {
    public static func render(_ machine: MachineDefinition) throws -> String {
        var lines = [
            "[Exec]",
            "Boot=no",
            "ProcessTwo=yes",
            "Parameters=/sbin/busybox-init.sh",
            "ResolvConf=copy-stub",
            "Timezone=copy",
            "LinkJournal=no",
            "PrivateUsers=pick",
        ]
        let environment = machine.imageEnvironment
        for key in MachineDefinition.nspawnEnvironmentKeys {
            guard let value = environment.last(where: { $0.key == key })?.value else { continue }
            lines.append("Environment=\(try quoted("\(key)=\(value)", what: "the image's \(key)"))")
        }
        lines.append("WorkingDirectory=\(try plain(workingDirectory(machine.runtime.workingDir), what: "the image's WorkingDir"))")
        lines += [
            "",
            "[Network]",
            "VirtualEthernet=yes",
            "Bridge=\(machine.layout.bridge)",
            "",
            "[Files]",
            "PrivateUsersOwnership=map",
            // Read-only: the machine's init only reads it, and a machine that could rewrite it
            // could plant settings (its application's arguments, say) that survive its upgrades,
            // since the lines a person added are carried into every new generation.
            "BindReadOnly=\(try bindPath(machine.layout.environmentFile(of: machine.name))):/man8env.env:idmap",
        ]
        for volume in machine.volumes {
            lines.append("Bind=\(try bindPath(volume.hostPath)):\(try bindPath(volume.containerPath.description)):idmap")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` (an nspawn file) serving `settings` for machine `name`: its `Port=` lines are those
    /// of the published ports, its `ResolvConf=` follows the DNS choice, and the hosts file mbctl
    /// keeps (and, with a DNS server, the resolver file) is bound read-only on `/etc/hosts` (and
    /// `/etc/resolv.conf`). Lines of other settings stay as they are.
    static func serving(_ settings: MachineSettings, of name: MachineName, layout: HostLayout, in text: String) throws -> String {
        let hosts = "BindReadOnly=\(try bindPath(layout.hostsFile(of: name))):/etc/hosts"
        let resolver = "BindReadOnly=\(try bindPath(layout.resolverFile(of: name))):/etc/resolv.conf"
        let resolvConf: String
        var binds = [hosts]
        switch settings.dns {
        case .none: resolvConf = "ResolvConf=copy-stub"
        case .host: resolvConf = "ResolvConf=bind-host"
        case .address, .machine:
            resolvConf = "ResolvConf=off"
            binds.append(resolver)
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        lines = edit("[Exec]", in: lines, replacing: { $0.hasPrefix("ResolvConf=") }, with: [resolvConf])
        lines = edit("[Network]", in: lines, replacing: { $0.hasPrefix("Port=") }, with: settings.ports.map(\.nspawnLine))
        lines = edit("[Files]", in: lines, replacing: { $0 == hosts || $0 == resolver }, with: binds)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `lines` with the lines of `section` that `replacing` picks replaced by `added`: in the
    /// place of the first one, else at the end of the section (a section added when missing).
    private static func edit(_ section: String, in lines: [String], replacing: (String) -> Bool, with added: [String]) -> [String] {
        var current = "", result: [String] = [], insertion: Int?, sectionEnd: Int?
        for line in lines {
            if line.hasPrefix("[") {
                if current == section, sectionEnd == nil { sectionEnd = result.count }
                current = line.trimmingCharacters(in: .whitespaces)
            }
            if current == section, replacing(line) {
                if insertion == nil { insertion = result.count }
                continue
            }
            result.append(line)
        }
        if current == section, sectionEnd == nil { sectionEnd = result.count }
        guard !added.isEmpty else { return result }
        if let place = insertion ?? sectionEnd {
            // At a section's end, before the blank lines that part it from the next.
            var at = place
            if insertion == nil { while at > 0, result[at - 1].isEmpty { at -= 1 } }
            result.insert(contentsOf: added, at: at)
        } else {
            if let last = result.last, !last.isEmpty { result.append("") }
            result += [section] + added
        }
        return result
    }

    /// A value in double quotes as systemd unquotes it: `\` and `"` escaped.
    static func quoted(_ value: String, what: String) throws -> String {
        let text = try singleLine(value, what: what)
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A value taken as it is: on one line, and not ending with `\`, which systemd's parser
    /// reads as a line continuation that joins the next line to the value.
    static func plain(_ value: String, what: String) throws -> String {
        guard !value.hasSuffix("\\") else {
            throw Man8SError.unrepresentable(what: what, reason: "an nspawn setting cannot end with a backslash")
        }
        return try singleLine(value, what: what)
    }

    /// No line break (which would end the setting) and no NUL byte (which would cut it short).
    static func singleLine(_ value: String, what: String) throws -> String {
        guard !value.contains(where: { $0.isNewline }) else {
            throw Man8SError.unrepresentable(what: what, reason: "an nspawn setting cannot hold a line break")
        }
        guard !value.unicodeScalars.contains("\0") else {
            throw Man8SError.unrepresentable(what: what, reason: "an nspawn setting cannot hold a NUL byte")
        }
        return value
    }

    /// The image's WorkingDir as Docker uses it: `/` when unset, a relative one taken from `/`,
    /// `.` and `..` resolved lexically.
    static func workingDirectory(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "/" }
        var components: [Substring] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." { _ = components.popLast() } else { components.append(part) }
        }
        return "/" + components.joined(separator: "/")
    }

    /// A path of `Bind=`, where `:` separates source, destination and options.
    static func bindPath(_ path: String) throws -> String {
        try singleLine(path, what: "bind path \(path)").replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
    }

    /// The volumes an existing `NAME.nspawn` binds (its `Bind=` lines but man8env.env's): for a
    /// machine made before mbctl kept a record of them.
    static func boundVolumes(in directories: MachineDirectories, of name: MachineName) -> [VolumeMapping] {
        guard let bytes = try? directories.nspawnFiles.readFile(MachineDirectories.nspawnFileName(name), limit: 1 << 20) else { return [] }
        let layout = directories.layout
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line -> VolumeMapping? in
            guard line.hasPrefix("Bind=") else { return nil }
            var fields: [String] = [""]
            var escaped = false
            for character in line.dropFirst("Bind=".count) {
                if escaped {
                    fields[fields.count - 1].append(character); escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" {
                    fields.append("")
                } else {
                    fields[fields.count - 1].append(character)
                }
            }
            guard fields.count >= 2, fields[1] != "/man8env.env", let path = try? VolumePath(fields[1]) else { return nil }
            let host = fields[0]
            let choice: VolumeChoice =
                host.hasPrefix(layout.configDirectory(of: name) + "/")
                ? .config
                : host.hasPrefix(layout.dataDirectory(of: name) + "/") ? .data : .custom(host)
            return VolumeMapping(containerPath: path, choice: choice, hostPath: host)
        }
    }
}
