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

    /// `text` (an nspawn file) publishing exactly `ports`: its `Port=` lines of `[Network]`
    /// replaced by theirs, placed at the end of that section (a `[Network]` section added when
    /// there is none).
    static func publishing(_ ports: [PublishedPort], in text: String) -> String {
        var section = ""
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { line in
            if line.hasPrefix("[") { section = line.trimmingCharacters(in: .whitespaces) }
            return !(section == "[Network]" && line.hasPrefix("Port="))
        }
        let added = ports.map(\.nspawnLine)
        guard !added.isEmpty else { return lines.joined(separator: "\n") }
        if let header = lines.firstIndex(of: "[Network]") {
            var end = header + 1
            while end < lines.count, !lines[end].hasPrefix("["), !lines[end].isEmpty { end += 1 }
            lines.insert(contentsOf: added, at: end)
        } else {
            if lines.last == "" { lines.removeLast() }
            lines += ["", "[Network]"] + added + [""]
        }
        return lines.joined(separator: "\n")
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
