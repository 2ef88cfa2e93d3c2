import ArgumentParser
import Foundation
import Man8S

extension MachinesCommand {
    struct AutoUpdate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "auto-update",
            abstract: "Upgrade the machines marked --auto-update registry whose image has moved, rolling back those that are not healthy after it.",
            discussion: """
                For every running machine marked with --auto-update registry (or auto_update = \
                "registry" in a machines file), or the machines named, in dependency order: the \
                registry is asked which manifest the machine's image reference names now \
                (manifest requests only, through registries.conf's mirrors). A machine whose digest \
                moved is upgraded with a restart (the signature policy applies as to every pull), \
                then must prove healthy: its health check passes, or, without one, its unit stays \
                up for --settle. One that does not is rolled back to the generation it ran, started \
                again and checked again. Each outcome goes to the machine's journal.

                The exit status is 1 when a machine was rolled back or could not be updated, \
                each named with the reason. One run at a time per host; a run killed anywhere \
                leaves each machine on its old generation or its new one. \
                mbctl-auto-update.timer (installed, disabled) runs it daily.

                Examples:
                  mbctl machines auto-update --dry-run
                  mbctl machines auto-update web
                """
        )

        @Argument(help: "Only these machines (marked or not).", completion: MachineNameCompletion.kind)
        var names: [String] = []

        @Flag(help: "Say which machines would be upgraded, and to which digest; change nothing.")
        var dryRun = false

        @Option(help: ArgumentHelp("How long a machine without a health check must stay up after its upgrade (default 10s).", valueName: "duration"))
        var settle = "10s"

        @OptionGroup var host: HostOptions
        @OptionGroup var build: MachineBuildOptions
        @OptionGroup var registry: RegistryOptions

        func run() async throws {
            let names = try self.names.map(MachineName.init)
            let settle = try HealthCheck.parseDuration(self.settle, option: "--settle")
            let configuration = try host.configuration()
            var update = MachineAutoUpdate(build: try build.machineBuild(from: configuration, host: host, registry: registry))
            update.keep = configuration.keepGenerations
            update.settle = .milliseconds(settle)
            let machines = try update.machines(named: names)
            guard !machines.isEmpty else {
                say("no machine is marked for auto-update (mbctl machines configure NAME --auto-update registry)")
                return
            }
            let (updater, dryRun) = (update, self.dryRun)
            let outcomes = try await Interruption.cancellable {
                try await updater.run(machines, dryRun: dryRun) { name, outcome in say("\(name): \(Self.describe(outcome))") }
            }
            let failed = zip(machines, outcomes).filter { $0.1.isFailure }.map(\.0.value)
            if !failed.isEmpty {
                warn("not updated: \(failed.joined(separator: ", "))")
                throw ExitCode(1)
            }
        }

        static func describe(_ outcome: MachineAutoUpdate.Outcome) -> String {
            func short(_ digest: String?) -> String { digest.map { String($0.prefix(19)) } ?? "an unrecorded digest" }
            switch outcome {
            case .upToDate(let digest): return "up to date (\(short(digest.description)))"
            case .wouldUpgrade(let from, let to): return "would upgrade \(short(from)) → \(to)"
            case .upgraded(let from, let to): return "upgraded \(short(from)) → \(to), healthy"
            case .rolledBack(let to, let reason, let again):
                return "rolled back from \(to): \(reason)" + (again ? "; healthy again" : "; its previous generation is not healthy either")
            case .skipped(let reason): return "left alone: \(reason)"
            case .failed(let reason): return "not updated: \(reason)"
            }
        }
    }
}
