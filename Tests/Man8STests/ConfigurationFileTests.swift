import Foundation
import Testing
@testable import Man8S

@Suite struct ConfigurationFileTests {
    @Test func readsEverySetting() throws {
        let file = try ConfigurationFile(
            text: """
                # mbctl on this host
                [paths]
                machines = "/srv/machines"   # rootfs
                systemd_machines = "/srv/systemd"
                nspawn = "/srv/nspawn"
                configs = "/srv/configs"
                storage = "/srv/storage"
                cache = "/srv/cache"
                busybox = "/opt/busybox"

                [network]
                bridge = "br#1"
                prefix = "301:1:2:3::/64"

                [machines]
                template = "network_isolated"

                [registry]
                tls_verify = false
                cert_dir = "/etc/certs \\"quoted\\""
                authfile = "/root/auth.json"
                jobs = 8
                """, path: "test.toml")
        #expect(file.layout.machines == "/srv/machines")
        #expect(file.layout.systemdMachines == "/srv/systemd")
        #expect(file.layout.nspawnFiles == "/srv/nspawn")
        #expect(file.layout.configs == "/srv/configs")
        #expect(file.layout.storage == "/srv/storage")
        #expect(file.layout.cache == "/srv/cache")
        #expect(file.layout.busybox == "/opt/busybox")
        #expect(file.layout.bridge == "br#1")
        #expect(file.prefix == "301:1:2:3::/64")
        #expect(file.tlsVerify == false)
        #expect(file.certDirectory == "/etc/certs \"quoted\"")
        #expect(file.authFile == "/root/auth.json")
        #expect(file.jobs == 8)
    }

    @Test(arguments: [
        ("[paths]\nmachine = \"/x\"", "line 2: unknown key machine in [paths]"),
        ("[pathz]", "line 1: unknown section [pathz]"),
        ("bridge = \"x\"", "line 1: bridge is outside any section"),
        ("[registry]\njobs = 0", "line 2: jobs takes a number from 1 to 64"),
        ("[registry]\ntls_verify = \"yes\"", "line 2: tls_verify takes true or false"),
        ("[paths]\ncache = /x", "line 2: expected a value, found '/' (strings are written in quotes)"),
        ("[paths]\ncache = x", "line 2: 'x' is not a TOML value (strings are written in quotes)"),
        ("[network]\nbridge = 5", "line 2: bridge takes a \"string\""),
    ])
    func namesTheLineAtFault(text: String, message: String) {
        #expect {
            try ConfigurationFile(text: text, path: "/etc/mbctl/config.toml")
        } throws: { error in
            "\(error)".contains("/etc/mbctl/config.toml, \(message)")
        }
    }

    @Test func aMissingDefaultFileIsTheDefaults() throws {
        #expect(try ConfigurationFile(path: "/nonexistent/config.toml", required: false) == ConfigurationFile())
        #expect(throws: Man8SError.self) { try ConfigurationFile(path: "/nonexistent/config.toml", required: true) }
    }

    /// `Examples/config.toml`, installed as `/etc/mbctl/config.toml`: as shipped it changes
    /// nothing, and with every line uncommented it still parses and states the true defaults.
    @Test func theShippedExampleStatesTheDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Examples/config.toml").standardized.path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(try ConfigurationFile(text: text, path: path) == ConfigurationFile())

        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("#") && $0.contains(" = ") ? String($0.dropFirst()) : String($0) }
            .joined(separator: "\n")
        var file = try ConfigurationFile(text: uncommented, path: path)
        #expect(file.layout == HostLayout())
        #expect(file.template == ConfigurationFile().template && file.keepGenerations == ConfigurationFile().keepGenerations)
        #expect(file.rootfsMethod == nil && file.tlsVerify == true && file.jobs == 4)
        #expect(file.prefix != nil && file.certDirectory != nil && file.authFile != nil && file.registriesConf != nil)
        file.prefix = nil
        file.certDirectory = nil
        file.authFile = nil
        file.registriesConf = nil
        file.tlsVerify = nil
        file.jobs = nil
        #expect(file == ConfigurationFile())
    }
}
