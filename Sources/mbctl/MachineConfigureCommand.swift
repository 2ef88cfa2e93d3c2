import ArgumentParser
import Foundation
import Man8S

extension MachinesCommand {
    struct Configure: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change what makes a machine a service: published ports, required machines, resource limits.",
            discussion: """
                Settings are kept by mbctl for the machine and survive its upgrades and rollbacks. \
                They apply at the machine's next start, or at once with --restart. Given as they \
                already are, nothing is written.

                --port HOSTPORT:MACHINEPORT[/tcp|/udp] publishes a port (systemd-nspawn forwards it \
                to the machine's IPv4 address, from its DHCP lease on the bridge; the host needs IPv4 \
                forwarding on, which mbctl checks). --port -HOSTPORT[/PROTOCOL] stops publishing one, \
                --no-port all of them. --require NAME starts NAME first whenever this machine \
                starts, at boot too; --no-require NAME undoes it. --memory, --cpus and --pids-limit \
                set MemoryMax=, CPUQuota= and TasksMax= on the machine's unit; none removes one.

                Examples:
                  mbctl machines configure web --port 8080:80 --require db --restart
                  mbctl machines configure web --port -8080 --memory 512M --cpus 1.5
                """
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @OptionGroup var service: ServiceOptions

        @Flag(name: .customLong("no-port"), help: "Stop publishing every port.")
        var noPort = false

        @Option(name: .customLong("no-require"), help: ArgumentHelp("Stop requiring NAME (repeatable).", valueName: "name"))
        var noRequire: [String] = []

        @Flag(help: "Restart the machine, when it runs, so the settings apply now.")
        var restart = false

        @OptionGroup var host: HostOptions

        func run() throws {
            let name = try MachineName(self.name)
            var change = try service.change(allowingRemovals: true)
            change.removeAllPorts = noPort
            change.removeRequires = try noRequire.map(MachineName.init)
            var configure = MachineConfigure(layout: try host.layout)
            configure.recovery = host.recovery
            configure.checksHost = host.root == nil
            let outcome = try configure.configure(name, change, restart: restart)
            guard outcome.changed else {
                say("machine \(name): settings unchanged")
                return
            }
            say("machine \(name): " + (outcome.settings.summary.isEmpty ? "no service settings" : outcome.settings.summary.joined(separator: "; ")))
            say(outcome.restarted ? "restarted: the settings apply now" : "they apply when the machine next starts (or pass --restart)")
        }
    }
}
