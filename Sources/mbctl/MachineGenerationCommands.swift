import ArgumentParser
import Foundation
import ImageAccess
import Man8S

extension MachinesCommand {
    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a machine anew from its image's newest version, keeping its configuration and data.",
            discussion: """
                SRC defaults to the image the machine was made from, as mbctl recorded it. When that image is the machine's already (same manifest digest), \
                nothing changes. Otherwise the new root filesystem is built beside the old one, with \
                the same checks as a pull; NAME.nspawn and mbctl's lines of man8env.env are written \
                anew, and every line you added or changed there is kept; volumes new in the image are \
                seeded (answer with --volume, or on a terminal); volumes the image dropped keep their \
                host directories. Then the new generation takes the old one's place, which is kept \
                for machines rollback. A running machine is refused unless --restart, which stops it \
                for the swap and starts it again (through systemd).

                Service options (--port, --require, --memory, --dns, --health-cmd…, as machines \
                configure takes them) change the machine's settings with the upgrade; they are \
                checked before it starts.

                An upgrade killed half-way is finished by the next mbctl command for the machine, \
                and before the machine's unit starts.

                Examples:
                  mbctl machines upgrade web
                  mbctl machines upgrade web registry.example/app:2.0 --restart
                """
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @Argument(help: ArgumentHelp("The image to upgrade to (default: the one the machine was made from).", valueName: "src"))
        var source: String?

        @Option(
            name: .customLong("volume"),
            help: ArgumentHelp("Where a volume new in the image goes (repeatable).", valueName: "/path=config|data|skip|/host/path"))
        var volumes: [String] = []

        @Flag(help: "Stop a running machine for the swap and start it again.")
        var restart = false

        @Option(help: ArgumentHelp("The host's yggdrasil subnet, for a machine mbctl keeps no address of (made by an older mbctl).", valueName: "prefix/len"))
        var prefix: String?

        @OptionGroup var service: ServiceOptions
        @OptionGroup var host: HostOptions
        @OptionGroup var build: MachineBuildOptions
        @OptionGroup var registry: RegistryOptions

        @Flag(name: .shortAndLong, help: "Print only errors and the final result.")
        var quiet = false

        func run() async throws {
            let name = try MachineName(self.name)
            let configuration = try host.configuration()
            // Service settings given here change with the upgrade: checked first, set after it.
            var configure = MachineConfigure(layout: build.layout(from: configuration, host: host))
            configure.recovery = host.recovery
            configure.checksHost = host.root == nil
            let change = service.givesAny ? try service.change(allowingRemovals: true) : nil
            if let change { try configure.check(name, change) }
            var answers: [String: VolumeChoice] = [:]
            for flag in volumes {
                let (path, choice) = try VolumeChoice.parseFlag(flag)
                answers[path] = choice
            }
            var upgrade = MachineUpgrade(build: try build.machineBuild(from: configuration, host: host, registry: registry))
            upgrade.prefix = try (prefix ?? configuration.prefix).map(IPv6Prefix.init(parsing:))
            upgrade.keep = configuration.keepGenerations
            upgrade.restart = restart
            let reporter = TransferReporter(quiet: quiet)
            let ask: VolumeQuestion? = isatty(STDIN_FILENO) == 1 ? VolumePrompt.ask : nil
            let (source, choices, machine) = (self.source, answers, upgrade)
            let outcome = try await Interruption.cancellable {
                try await machine.upgrade(name, from: source, volumes: choices, ask: ask, progress: reporter.handle) { index, count, applied in
                    reporter.layerApplied(index: index, count: count, entries: applied.entries)
                }
            }
            reporter.finish()
            switch outcome {
            case .upToDate(let digest):
                say("\(name) is up to date (\(digest))")
            case .upgraded(let upgraded):
                for warning in upgraded.warnings { warn("warning: \(warning)") }
                for volume in upgraded.newVolumes { say("new volume \(volume.containerPath) seeded into \(volume.hostPath)") }
                for volume in upgraded.droppedVolumes { say("the image no longer has volume \(volume.containerPath); \(volume.hostPath) stays") }
                say(
                    "upgraded \(name) to \(upgraded.to) (generation \(upgraded.generation))" + (upgraded.restarted ? ", restarted" : "")
                        + "; mbctl machines rollback \(name) goes back")
            }
            if let change {
                let outcome = try configure.configure(name, change, restart: restart)
                say("machine \(name): " + (outcome.changed ? outcome.settings.summary.joined(separator: "; ") : "settings unchanged"))
            }
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Go back to a machine's previous generation.",
            discussion: """
                The root filesystem, NAME.nspawn and man8env.env of the generation kept by the last \
                upgrade take the place of the current ones, which are kept in their turn (so a \
                second rollback goes forward again). Configuration and data directories stay as they \
                are. A running machine is refused unless --restart.
                """
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @Flag(help: "Stop a running machine for the swap and start it again.")
        var restart = false

        @OptionGroup var host: HostOptions

        func run() throws {
            var rollback = MachineRollback(layout: try host.layout)
            rollback.restart = restart
            let outcome = try rollback.rollback(try MachineName(name))
            say(
                "rolled \(name) back from generation \(outcome.from) to \(outcome.to)"
                    + (outcome.image.map { " (\($0)" + (outcome.digest.map { ", \($0))" } ?? ")") } ?? "")
                    + (outcome.restarted ? ", restarted" : ""))
        }
    }

    struct Recover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Finish an upgrade or rollback of a machine that was interrupted.",
            discussion: "Every machines command does this first; the machine's unit runs it before it boots. Nothing happens when there is nothing to finish."
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @OptionGroup var host: HostOptions

        func run() throws {
            if try MachineRecovery(layout: try host.layout).recover(try MachineName(name)) {
                say("finished the interrupted change of \(name)")
            }
        }
    }
}
