import ArgumentParser
import Foundation
import Man8S

extension MachinesCommand {
    struct Configure: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change what makes a machine a service: published ports, required machines, resource limits, names.",
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

                Every machine resolves every machine of the host as NAME and NAME.man8s.local (at \
                its yggdrasil address) through a hosts file mbctl keeps, bound read-only on its \
                /etc/hosts and updated at once as machines come and go. --add-host NAME:ADDRESS \
                adds an entry to it (-NAME removes one, --no-add-host all); --dns host|ADDRESS|MACHINE \
                chooses where DNS queries go (none: the DHCP lease's servers).

                Examples:
                  mbctl machines configure web --port 8080:80 --require db --restart
                  mbctl machines configure web --port -8080 --memory 512M --cpus 1.5
                  mbctl machines configure web --dns resolver --add-host backup:fd00::5
                """
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @OptionGroup var service: ServiceOptions

        @Flag(name: .customLong("no-port"), help: "Stop publishing every port.")
        var noPort = false

        @Option(name: .customLong("no-require"), help: ArgumentHelp("Stop requiring NAME (repeatable).", valueName: "name"))
        var noRequire: [String] = []

        @Flag(name: .customLong("no-add-host"), help: "Remove every host added with --add-host.")
        var noAddHost = false

        @Flag(help: "Restart the machine, when it runs, so the settings apply now.")
        var restart = false

        @OptionGroup var host: HostOptions

        func run() throws {
            let name = try MachineName(self.name)
            var change = try service.change(allowingRemovals: true)
            change.removeAllPorts = noPort
            change.removeRequires = try noRequire.map(MachineName.init)
            change.removeAllHosts = noAddHost
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
