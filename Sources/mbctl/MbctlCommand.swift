import ArgumentParser
import Man8S

@main
struct MbctlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mbctl",
        abstract: "Manage Man8S machines: systemd-nspawn containers made from OCI and Docker images.",
        discussion: """
            Images are read from registries (docker://REFERENCE, or a bare reference such as \
            busybox or registry.example:5000/app:1.2), from OCI image layouts (oci:DIR[:TAG]) \
            and from archives (oci-archive:FILE[:TAG], docker-archive:FILE[:REFERENCE]).

            Start with: mbctl machines pull --help
            """,
        version: MbctlVersion.current,
        subcommands: [MachinesCommand.self, OCICommand.self, AddressCommand.self, CacheCommand.self, VersionCommand.self]
    )

    /// Runs the command; an error from running it is printed with its control characters
    /// escaped, since its message may carry what a machine, an image or a registry wrote.
    static func main() async {
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                var synchronous = command
                try synchronous.run()
            }
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch let error as ValidationError {
            exit(withError: error)
        } catch  where exitCode(for: error) == .success {
            // A help request that argument-parser raises while running (`mbctl help …`, and
            // `--help`, which it turns into its help command): its own text, printed as it is.
            exit(withError: error)
        } catch {
            exit(withError: EscapedError(underlying: error))
        }
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print mbctl's version.")

    func run() {
        print("mbctl \(MbctlVersion.current)")
    }
}
