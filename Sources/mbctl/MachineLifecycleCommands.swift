import ArgumentParser
import Foundation
import Man8S

/// The options of the commands that drive a machine's systemd unit.
struct UnitOptions: ParsableArguments {
    @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
    var name: String

    @OptionGroup var host: HostOptions

    /// The lifecycle of the machine; systemd manages this host's units, so `--root` has no place.
    func lifecycle() throws -> (MachineLifecycle, MachineName) {
        guard host.root == nil else {
            throw ValidationError("this command drives this host's systemd, which --root cannot move; leave --root out")
        }
        var lifecycle = MachineLifecycle(layout: try host.layout)
        lifecycle.recovery = host.recovery
        return (lifecycle, try MachineName(name))
    }
}

extension MachinesCommand {
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a machine (its unit systemd-nspawn@NAME.service).",
            discussion: "Finishes an interrupted upgrade or rollback first. Needs systemd to run the host.")

        @OptionGroup var unit: UnitOptions

        func run() throws {
            let (lifecycle, name) = try unit.lifecycle()
            try lifecycle.start(name)
            say("started \(name)")
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a machine (its unit systemd-nspawn@NAME.service).")

        @OptionGroup var unit: UnitOptions

        func run() throws {
            let (lifecycle, name) = try unit.lifecycle()
            try lifecycle.stop(name)
            say("stopped \(name)")
        }
    }

    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart a machine (its unit systemd-nspawn@NAME.service).")

        @OptionGroup var unit: UnitOptions

        func run() throws {
            let (lifecycle, name) = try unit.lifecycle()
            try lifecycle.restart(name)
            say("restarted \(name)")
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a machine when the host boots.",
            discussion: "Enables its unit and machines.target, as machinectl enable does.")

        @OptionGroup var unit: UnitOptions

        func run() throws {
            let (lifecycle, name) = try unit.lifecycle()
            try lifecycle.enable(name)
            say("enabled \(name): it starts when the host boots")
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Do not start a machine when the host boots.")

        @OptionGroup var unit: UnitOptions

        func run() throws {
            let (lifecycle, name) = try unit.lifecycle()
            try lifecycle.disable(name)
            say("disabled \(name)")
        }
    }

    struct Logs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a machine's journal (its unit's), with -f to follow it.")

        @OptionGroup var unit: UnitOptions

        @Flag(name: .shortAndLong, help: "Follow new lines as they come.")
        var follow = false

        func run() throws {
            let (_, name) = try unit.lifecycle()
            let command = try Systemd().logsCommand(name, follow: follow)
            let arguments = command.map { strdup($0) } + [nil]
            execv(command[0], arguments)
            throw ValidationError("cannot run \(command[0]): \(String(cString: strerror(errno)))")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether a machine runs, since when, its address, image and generations.")

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @OptionGroup var host: HostOptions

        func run() throws {
            let details = try MachineStatus(layout: try host.layout).details(try MachineName(name))
            var state = details.running ? "running" : "stopped"
            if let unit = details.unit {
                state = unit.active + (unit.active == "active" && !unit.since.isEmpty ? " since \(unit.since)" : "")
                state += unit.file == "enabled" ? ", enabled at boot" : ", not enabled at boot"
            }
            say("\(details.name): \(state)")
            if let health = details.health {
                let last = details.lastHealthCheck.flatMap { record in
                    record.exitCode.map { "; last check exited \($0)" + (record.output.map { $0.isEmpty ? "" : ": " + String($0.suffix(200)).escaped } ?? "") }
                }
                say("  health      \(health.rawValue)" + (last ?? ""))
            }
            say("  address     \(details.address ?? "-")")
            say("  image       \(details.image ?? "-")")
            say("  digest      \(details.digest ?? "-")")
            say(
                "  generation  \(details.current.number)"
                    + (details.previous.isEmpty
                        ? "" : "; kept for rollback: " + details.previous.map { "\($0.number) (\($0.image ?? "?"))" }.joined(separator: ", ")))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everything mbctl knows of a machine: image, address, volumes, generations, paths, unit.")

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var host: HostOptions

        func run() throws {
            let details = try MachineStatus(layout: try host.layout).details(try MachineName(name))
            if json {
                try printJSON(details)
                return
            }
            say("name          \(details.name)")
            say("running       \(details.running ? "yes" : "no")" + (details.unit.map { " (unit \($0.active), \($0.file))" } ?? ""))
            say("address       \(details.address ?? "-")")
            say("image         \(details.image ?? "-")")
            say("digest        \(details.digest ?? "-")")
            say("template      \(details.template ?? "-")")
            say("created       \(details.createdAt ?? "-")")
            say("generation    \(details.current.number)")
            say("verified      \(details.current.verification)")
            for kept in details.previous {
                say("kept          \(kept.number): \(kept.image ?? "?") \(kept.digest ?? "")")
                say("  verified    \(kept.verification)")
            }
            for volume in details.volumes { say("volume        \(volume.path) <- \(volume.hostPath)") }
            say("rootfs        \(details.rootfs)")
            say("nspawn file   \(details.nspawnFile)")
            say("configuration \(details.configDirectory)")
            say("data          \(details.dataDirectory)")
            if !details.userSettings.isEmpty { say("your settings \(details.userSettings.joined(separator: " "))") }
            for phrase in details.service.summary { say("service       \(phrase.escaped)") }
            if let health = details.health { say("health        \(health.rawValue)") }
        }
    }
}
