import ArgumentParser
import Foundation
import ImageAccess
import Man8S

struct MachinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "machines",
        abstract: "Make, upgrade, run and remove Man8S machines.",
        subcommands: [
            Pull.self, Configure.self, Apply.self, Upgrade.self, AutoUpdate.self, Rollback.self, List.self, Show.self, Status.self,
            Start.self, Stop.self, Restart.self, Enable.self, Disable.self, Logs.self, Shell.self, Health.self, Remove.self, Recover.self,
        ]
    )

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a machine from an image.",
            discussion: """
                Fetches the image, unpacks it as the machine's root filesystem, installs the Man8S \
                busybox init, and writes NAME.nspawn and man8env.env, with the machine's fixed \
                yggdrasil address derived from NAME. The machine appears whole or not at all: on \
                any error, or Ctrl-C, what this run made is removed. Configuration and data \
                directories left by an earlier machine of that name are reused, never overwritten.

                Each volume of the image goes to config (below the machine's configuration \
                directory), data (below its data directory), a custom host path, or is skipped; \
                what the image holds there is copied in as seed data. Give the answers with \
                --volume, or answer the questions on a terminal.

                Examples:
                  mbctl machines pull docker.io/registry:latest Man8Registry --prefix 300:2e98:a4b0:1789::/64
                  mbctl machines pull oci:/srv/images/app:1.0 app --volume /var/lib/app=data
                """
        )

        @Argument(
            help: ArgumentHelp("The image: docker://REF (or a bare REF), oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF].", valueName: "src")
        )
        var source: String

        @Argument(help: "The machine's name (a hostname: letters, digits, - _ .).")
        var name: String

        @Option(help: "The machine template (only network_isolated exists; default: the configuration file's).")
        var template: String?

        @Option(
            help: ArgumentHelp("The host's yggdrasil subnet the address is taken from (default: asked from yggdrasil's admin socket).", valueName: "prefix/len")
        )
        var prefix: String?

        @Option(name: .customLong("volume"), help: ArgumentHelp("Where an image volume goes (repeatable).", valueName: "/path=config|data|skip|/host/path"))
        var volumes: [String] = []

        @OptionGroup var service: ServiceOptions
        @OptionGroup var host: HostOptions
        @OptionGroup var build: MachineBuildOptions
        @OptionGroup var registry: RegistryOptions

        @Flag(name: .shortAndLong, help: "Print only errors and the final result.")
        var quiet = false

        func validate() throws {
            if let template, template != "network_isolated" { throw ValidationError("unknown template \(template); the only one is network_isolated") }
        }

        func run() async throws {
            let name = try MachineName(self.name)
            let location = try ImageLocation(parsing: source)
            let configuration = try host.configuration()
            let layout = build.layout(from: configuration, host: host)
            let configured = try (self.prefix ?? configuration.prefix).map(IPv6Prefix.init(parsing:))
            let prefix: IPv6Prefix
            if let configured {
                prefix = configured
            } else {
                prefix = try await YggdrasilPrefixDiscovery(configFiles: layout.yggdrasilConfigs).discover()
            }
            var answers: [String: VolumeChoice] = [:]
            for flag in volumes {
                let (path, choice) = try VolumeChoice.parseFlag(flag)
                answers[path] = choice
            }
            var machineBuild = try build.machineBuild(from: configuration, host: host, registry: registry)
            machineBuild.template = template ?? configuration.template
            var pull = MachinePull(build: machineBuild)
            pull.recovery = host.recovery
            pull.settings = try service.change(allowingRemovals: false).applied(to: MachineSettings())
            pull.checksHost = host.root == nil
            let reporter = TransferReporter(quiet: quiet)
            let ask: VolumeQuestion? = isatty(STDIN_FILENO) == 1 ? VolumePrompt.ask : nil
            let started = Date()
            let sourceText = source
            let choices = answers
            let pullMachine = pull
            let outcome = try await Interruption.cancellable {
                try await pullMachine.pull(location, as: sourceText, name: name, prefix: prefix, volumes: choices, ask: ask, progress: reporter.handle) {
                    index, count, applied in
                    reporter.layerApplied(index: index, count: count, entries: applied.entries)
                }
            }
            reporter.finish()
            for warning in outcome.warnings { warn("warning: \(warning)") }
            for directory in outcome.reused { say("reused existing \(directory)") }
            if let previous = outcome.previousEnvironmentFile { say("kept the previous man8env.env as \(previous)") }
            say(
                "machine \(name) made from \(source) (\(outcome.imageDigest)) \(outcome.method.phrase), address \(outcome.address), in \(String(format: "%.1f", Date().timeIntervalSince(started)))s"
            )
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List machines: name, running, enabled at boot, health, address, image, digest, auto-update.")

        @OptionGroup var host: HostOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let entries = MachineList(layout: try host.layout).entries()
            if json {
                try printJSON(entries)
                return
            }
            printRow(["NAME", "RUNNING", "ENABLED", "HEALTH", "ADDRESS", "IMAGE", "DIGEST", "AUTO-UPDATE"])
            for entry in entries {
                let image = entry.unrecorded == nil ? entry.image ?? "-" : "?"
                printRow([
                    entry.name, entry.running ? "yes" : "no", entry.enabled.map { $0 ? "yes" : "no" } ?? "-", entry.health?.rawValue ?? "-",
                    entry.address ?? "-", image,
                    entry.digest.map { String($0.prefix(19)) } ?? "-", entry.autoUpdate ? "registry" : "-",
                ])
            }
            for entry in entries { if let reason = entry.unrecorded { warn("\(entry.name): \(reason)") } }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a machine; its configuration and data stay.",
            discussion: "Deletes the rootfs, the /var/lib/machines link and NAME.nspawn. Refuses while the machine runs, unless --force."
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @Flag(help: "Remove it even while it runs.")
        var force = false

        @OptionGroup var host: HostOptions

        func run() throws {
            let outcome = try MachineRemoval(layout: try host.layout).remove(try MachineName(name), force: force)
            say("removed machine \(name)" + (outcome.kept.isEmpty ? "" : "; kept \(outcome.kept.joined(separator: " and "))"))
            for warning in outcome.warnings { warn(warning) }
        }
    }
}

extension MachinesCommand {
    struct Shell: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a shell, or a command, inside a running machine.",
            discussion: "Enters all namespaces of the machine's init with nsenter. Example: mbctl machines shell web --command 'ip addr'"
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @Option(help: "A command for the machine's /bin/sh -c, instead of an interactive shell.")
        var command: String?

        @OptionGroup var host: HostOptions

        func run() throws {
            let arguments = try MachineShell(layout: try host.layout).enterCommand(for: try MachineName(name), command: command)
            let nsenter = ["/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter"].first { FileManager.default.isExecutableFile(atPath: $0) }
            guard let nsenter else { throw ValidationError("nsenter (util-linux) is not installed") }
            setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1)
            let cArguments = arguments.map { strdup($0) } + [nil]
            execv(nsenter, cArguments)
            throw ValidationError("cannot run \(nsenter): \(String(cString: strerror(errno)))")
        }
    }
}

/// The volume question of the Python mbctl, on a terminal.
enum VolumePrompt {
    @Sendable static func ask(_ path: String) -> VolumeChoice? {
        while true {
            FileHandle.standardError.write(Data("The image has a volume \(path.escaped). Where does it go?\n  1) config  2) data  3) custom  4) skip\n> ".utf8))
            guard let answer = readLine()?.trimmingCharacters(in: .whitespaces) else { return nil }
            if answer == "3" || answer == "custom" {
                FileHandle.standardError.write(Data("Host directory (absolute, must not exist yet): ".utf8))
                guard let host = readLine()?.trimmingCharacters(in: .whitespaces) else { return nil }
                if host.hasPrefix("/") { return .custom(host) }
                continue
            }
            if let choice = try? VolumeChoice(parsing: answer) { return choice }
        }
    }
}
