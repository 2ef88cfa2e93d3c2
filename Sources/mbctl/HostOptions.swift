import ArgumentParser
import Foundation
import Man8S

/// Where the host's Man8S directories are.
struct HostOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Put every host path (machines, nspawn files, configs, data, cache, the config file) under this directory, to try mbctl without touching the host.",
            valueName: "dir"))
    var root: String?

    @Option(help: ArgumentHelp("mbctl's configuration file (default /etc/mbctl/config.toml, if it exists).", valueName: "file"))
    var config: String?

    /// The configuration file: `--config`, else the default one (under `--root`), if present.
    func configuration() throws -> ConfigurationFile {
        try HostSettings(root: root, config: config).configuration()
    }

    var layout: HostLayout {
        get throws { try layout(from: configuration()) }
    }

    func layout(from configuration: ConfigurationFile) -> HostLayout {
        HostSettings(root: root, config: config).layout(from: configuration)
    }

    /// How the machine's unit runs this mbctl before a boot, with this configuration file; nil
    /// under `--root`, whose machines systemd does not run.
    var recovery: RecoveryCommand? {
        guard root == nil, let executable = MbctlExecutable.path else { return nil }
        let file = config.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
        return RecoveryCommand(executable: executable, configurationFile: file)
    }
}

/// What the commands that build a machine's files (pull, upgrade) take beside ``HostOptions``.
struct MachineBuildOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The host's static busybox, copied into machines.", valueName: "file"))
    var busybox: String?

    @Option(help: ArgumentHelp("The bridge machines join.", valueName: "name"))
    var bridge: String?

    func layout(from configuration: ConfigurationFile, host: HostOptions) -> HostLayout {
        HostSettings(root: host.root, config: host.config, busybox: busybox, bridge: bridge).layout(from: configuration)
    }

    /// How machines are built under `configuration`, as these options, `host`'s and `registry`'s say.
    func machineBuild(from configuration: ConfigurationFile, host: HostOptions, registry: RegistryOptions) throws -> MachineBuild {
        let layout = layout(from: configuration, host: host)
        var build = MachineBuild(layout: layout, images: try registry.imageAccess(cache: layout.cache, file: configuration, root: host.root))
        build.template = configuration.template
        build.rootfsMethod = configuration.rootfsMethod
        return build
    }
}

/// What ``HostOptions`` say, for commands that name the options otherwise.
struct HostSettings {
    var root: String?
    var config: String?
    var busybox: String? = nil
    var bridge: String? = nil

    func configuration() throws -> ConfigurationFile {
        if let root, !root.hasPrefix("/") {
            throw ValidationError("--root \(root) is a relative path; give the absolute path of the directory to put every host path under")
        }
        if let config { return try ConfigurationFile(path: config, required: true) }
        return try ConfigurationFile(path: (root ?? "") + ConfigurationFile.defaultPath, required: false)
    }

    func layout(from configuration: ConfigurationFile) -> HostLayout {
        var layout = configuration.layout
        if let bridge { layout.bridge = bridge }
        if let busybox {
            layout.busybox = busybox
        } else if layout.busybox == HostLayout().busybox, !FileManager.default.isExecutableFile(atPath: layout.busybox),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/busybox")
        {
            // Debian's busybox-static installs it here.
            layout.busybox = "/usr/bin/busybox"
        }
        return root.map { layout.rooted(at: $0) } ?? layout
    }
}
