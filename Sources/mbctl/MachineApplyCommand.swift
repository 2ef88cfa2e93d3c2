import ArgumentParser
import Foundation
import Man8S

extension MachinesCommand {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the host's machines what a machines file says.",
            discussion: """
                FILE is TOML with one [machines.NAME] table per machine. Its keys are machines \
                pull's options: image (required), volumes = ["/path=config|data|skip|/host/path"], \
                env = { KEY = "value" } (lines of the machine's man8env.env), ports, requires, dns, \
                hosts, memory, cpus, pids_limit, health_cmd, health_interval, health_timeout, \
                health_start_period, health_retries, restart_on_unhealthy, auto_update, and enabled \
                (default true: the machine is started, and starts with the host).

                In dependency order (a machine after those it requires or resolves through), \
                missing machines are made, machines whose image reference changed, or whose image \
                has a new digest, are upgraded, changed settings are set (a running machine is \
                restarted for them), and machines are enabled and started. A machine that is as \
                the file says is not touched: "up to date". The whole file is read and checked \
                first: an unknown key, a wrong type or a refused value is an error naming its line, \
                and nothing changes. Machines not in the file are left alone; --prune removes them \
                (their configuration and data stay), after asking, or at once with --yes.

                Example file:
                  [machines.db]
                  image = "docker.io/library/postgres:16"
                  volumes = ["/var/lib/postgresql/data=data"]
                  env = { POSTGRES_PASSWORD = "secret" }

                  [machines.web]
                  image = "docker.io/library/nginx:1.27"
                  ports = ["8080:80"]
                  requires = ["db"]
                  health_cmd = "wget -q -O /dev/null http://127.0.0.1/"

                Examples:
                  mbctl machines apply /etc/man8s/machines.toml --dry-run
                  mbctl machines apply /etc/man8s/machines.toml --prune --yes
                """
        )

        @Argument(help: "The machines file.", completion: .file(extensions: ["toml"]))
        var file: String

        @Flag(help: "Print what would be done, and do nothing.")
        var dryRun = false

        @Flag(help: "Remove the machines that are not in the file.")
        var prune = false

        @Flag(name: .shortAndLong, help: "Do not ask before removing machines (with --prune).")
        var yes = false

        @Option(
            help: ArgumentHelp("The host's yggdrasil subnet new machines' addresses are taken from (default: asked from yggdrasil).", valueName: "prefix/len"))
        var prefix: String?

        @OptionGroup var host: HostOptions
        @OptionGroup var build: MachineBuildOptions
        @OptionGroup var registry: RegistryOptions

        @Flag(name: .shortAndLong, help: "Print only errors and what was done.")
        var quiet = false

        func run() async throws {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read \(file): \((error as NSError).localizedDescription)")
            }
            let machinesFile = try MachinesFile(text: text, path: file)
            let configuration = try host.configuration()
            var apply = MachinesApply(build: try build.machineBuild(from: configuration, host: host, registry: registry))
            apply.recovery = host.recovery
            apply.checksHost = host.root == nil
            apply.keep = configuration.keepGenerations
            let steps = try apply.plan(machinesFile, prune: prune)
            if dryRun {
                for step in steps {
                    say("\(step.name): " + step.actions.map(\.description).joined(separator: "; "))
                }
                return
            }
            let removals = steps.filter { $0.actions.contains(.remove) }.map(\.name.value)
            if !removals.isEmpty, !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    throw ValidationError("--prune would remove \(removals.joined(separator: ", ")); pass --yes to remove them without a question")
                }
                FileHandle.standardError.write(Data("remove \(removals.joined(separator: ", ")) (not in \(file))? [y/N] ".utf8))
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                    say("nothing done")
                    return
                }
            }
            let configured = try (prefix ?? configuration.prefix).map(IPv6Prefix.init(parsing:))
            let yggdrasilConfigs = apply.build.layout.yggdrasilConfigs
            let reporter = TransferReporter(quiet: quiet)
            let plan = steps, applying = apply
            try await Interruption.cancellable {
                try await applying.apply(
                    plan,
                    prefix: {
                        if let configured { return configured }
                        return try await YggdrasilPrefixDiscovery(configFiles: yggdrasilConfigs).discover()
                    }, progress: reporter.handle
                ) { name, what in
                    reporter.finish()
                    say("\(name): \(what)")
                }
            }
            reporter.finish()
        }
    }
}
