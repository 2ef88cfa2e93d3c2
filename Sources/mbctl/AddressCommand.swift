import ArgumentParser
import Man8S

struct AddressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "address",
        abstract: "Compute machines' fixed yggdrasil addresses.",
        subcommands: [GetSuffix.self]
    )

    struct GetSuffix: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "getsuffix",
            abstract: "Print the address suffix of a machine name.",
            discussion: """
                The suffix is the low bits of SHA-256(NAME). With --prefix the whole address under \
                that prefix is printed; without it, the low 64 bits under ::/64, e.g. \
                `mbctl address getsuffix Man8Registry` prints ::506:6d46:6c9:5800.
                """
        )

        @Argument(help: "The machine name.")
        var name: String

        @Option(help: "A yggdrasil prefix such as 300:2e98:a4b0:1789::/64 (default ::/64).")
        var prefix: String = "::/64"

        func run() throws {
            let prefix = try IPv6Prefix(parsing: prefix)
            print(YggdrasilAddress(machineName: name, prefix: prefix))
        }
    }
}
