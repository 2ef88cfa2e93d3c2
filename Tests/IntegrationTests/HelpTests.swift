import Testing

/// `--help` teaches: every way of asking prints the command's help on stdout and exits 0 (not an
/// error, and not escaped as one).
struct HelpTests {
    @Test(arguments: [
        ["--help"], ["-h"], ["help"], ["oci", "copy", "--help"], ["machines", "pull", "--help"], ["help", "machines", "upgrade"],
        ["machines", "--help"],
    ])
    func askingForHelpPrintsIt(arguments: [String]) throws {
        let result = try runMbctl(arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        #expect(result.stdout.hasPrefix("OVERVIEW:") && result.stdout.contains("USAGE: mbctl"), "\(arguments): \(result.stdout.prefix(200))")
        #expect(!result.stdout.contains("CommandError") && result.stderr.isEmpty, "\(arguments): \(result.stderr)")
    }

    @Test func copyHelpTeachesSigning() throws {
        let help = try runMbctl(["oci", "copy", "--help"]).stdout
        for option in ["--sign-by-sigstore-private-key", "--sign-by ", "--sign-passphrase-file", "--sign-identity", "--remove-signatures"] {
            #expect(help.contains(option), "\(option) is not in oci copy --help")
        }
    }
}
