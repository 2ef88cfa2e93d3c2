import ArgumentParser
import Foundation
import Man8S

extension MachinesCommand {
    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a machine's health check once: exit 0 when it passes, 1 when it fails.",
            discussion: """
                The check is the command given with --health-cmd (machines pull or machines \
                configure), run inside the running machine by its /bin/sh under --health-timeout. \
                What it prints is shown, its control characters escaped.

                While a machine with a check runs, systemd runs mbctl-health@NAME.service, which \
                is this command with --watch: a check every --health-interval, the outcome kept \
                for machines status and machines list (starting, healthy, unhealthy, as Docker \
                counts them), a machine turning unhealthy written to its journal, and restarted \
                with --restart-on-unhealthy.

                Examples:
                  mbctl machines configure web --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' --health-interval 10s
                  mbctl machines health web
                """
        )

        @Argument(help: "The machine's name.", completion: MachineNameCompletion.kind)
        var name: String

        @Flag(help: "Check every interval while the machine runs, keeping the outcome (what mbctl-health@NAME.service runs).")
        var watch = false

        @OptionGroup var host: HostOptions

        func run() async throws {
            let name = try MachineName(self.name)
            let health = MachineHealth(layout: try host.layout)
            if watch {
                try await Interruption.cancellable(announcing: false) { try await health.watch(name) }
                return
            }
            let outcome = try health.check(name)
            let output = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if !output.isEmpty { say(output.escaped) }
            if outcome.passed {
                say("machine \(name) is healthy")
                return
            }
            warn("machine \(name) is unhealthy: its check " + (outcome.timedOut ? "timed out" : "exited with \(outcome.exitCode)"))
            throw ExitCode(1)
        }
    }
}
