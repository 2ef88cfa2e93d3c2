import Foundation
import TestSupport
import OCILayout
import Testing
@testable import Man8S

@Suite struct MachineFilesTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden")

    /// A machine whose image has arguments with spaces, quotes and `$`, env values with spaces
    /// and `=`, a working directory and two volumes.
    func machine() throws -> MachineDefinition {
        var runtime = ImageConfiguration.RuntimeSettings()
        runtime.entrypoint = ["/app/run.sh", "--greeting", "hello world"]
        runtime.cmd = ["it's", "$HOME", "a\"b", "plain-arg_1.0", ""]
        runtime.env = ["PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hello there", "EQUATION=a=b=c", "HOME=/root", "QUOTE=say \"hi\"", "TERM=xterm"]
        runtime.workingDir = "/srv/app"
        let prefix = try IPv6Prefix(parsing: "300:2e98:a4b0:1789::/64")
        let name = try MachineName("TestBWContainer3")
        var layout = HostLayout()
        layout.bridge = "srvgrp0"
        return MachineDefinition(
            name: name, address: YggdrasilAddress(machineName: name.value, prefix: prefix),
            image: "docker.io/library/app:1.0", createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            runtime: runtime,
            volumes: [
                VolumeMapping(
                    containerPath: try VolumePath("/srv/app/data"), choice: .data, hostPath: "/var/lib/man8machine_storage/TestBWContainer3/srv/app/data"),
                VolumeMapping(containerPath: try VolumePath("/etc/app"), choice: .config, hostPath: "/var/lib/man8machine_configs/TestBWContainer3/etc/app"),
            ],
            layout: layout)
    }

    func golden(_ name: String) throws -> String {
        try String(contentsOf: Self.golden.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func nspawnFileMatchesGolden() throws {
        #expect(try NspawnFile.render(machine()) == golden("TestBWContainer3.nspawn"))
    }

    @Test func environmentFileMatchesGolden() throws {
        let utc = try #require(TimeZone(identifier: "UTC"))
        let rendered = try EnvironmentFile.render(machine(), version: "0.1.0", timeZone: utc)
        #expect(rendered == (try golden("man8env.env")))
    }

    @Test func applicationArgumentsReadBackBySh() throws {
        let rendered = try EnvironmentFile.render(machine(), version: "0.1.0")
        let line = rendered.split(separator: "\n").first { $0.hasPrefix("MAN8S_APPLICATION_ARGS=") }
        let args = String(line?.dropFirst("MAN8S_APPLICATION_ARGS=".count) ?? "")
        // sh itself splits the quoted words back into the image's arguments.
        let printed = try runCommand(["/bin/sh", "-c", "for a in \(args); do printf '[%s]' \"$a\"; done"]).stdout
        #expect(printed == "[/app/run.sh][--greeting][hello world][it's][$HOME][a\"b][plain-arg_1.0][]")
    }

    @Test func imageWithoutEntrypointOrCmdIsRefused() throws {
        var definition = try machine()
        definition.runtime.entrypoint = nil
        definition.runtime.cmd = []
        #expect(throws: Man8SError.self) { try EnvironmentFile.render(definition, version: "0.1.0") }
    }

    @Test func lineBreaksCannotSneakIntoFiles() throws {
        var definition = try machine()
        definition.runtime.env = ["EVIL=a\nMAN8S_YGGDRASIL_ADDRESS=::1"]
        #expect(throws: Man8SError.self) { try EnvironmentFile.render(definition, version: "0.1.0") }
        definition.runtime.env = ["PATH=/bin\n[Files]"]
        #expect(throws: Man8SError.self) { try NspawnFile.render(definition) }
    }

    @Test(arguments: [
        ("", "''"), ("plain", "plain"), ("a b", "'a b'"), ("it's", "'it'\"'\"'s'"), ("$HOME", "'$HOME'"),
        ("/usr/bin:x,y@z%+=", "/usr/bin:x,y@z%+="), ("ünï", "'ünï'"), ("*", "'*'"),
    ])
    func quotesAsPythonShlex(word: String, quoted: String) {
        #expect(ShellQuoting.quote(word) == quoted)
    }

    @Test(arguments: ["web", "Man8Registry", "a", "my-app_2.test", String(repeating: "x", count: 64)])
    func acceptsMachineNames(name: String) throws {
        #expect(try MachineName(name).value == name)
    }

    @Test(arguments: ["", ".", "..", ".hidden", "a..b", "trailing.", "a/b", "../etc", "-flag", "sp ace", "ünï", String(repeating: "x", count: 65)])
    func refusesMachineNames(name: String) {
        #expect(throws: Man8SError.self) { try MachineName(name) }
    }

    @Test func rootedLayoutMovesEveryPath() {
        let layout = HostLayout().rooted(at: "/tmp/r/")
        #expect(layout.machines == "/tmp/r/var/lib/man8machines")
        #expect(layout.nspawnFiles == "/tmp/r/etc/systemd/nspawn")
        #expect(layout.cache == "/tmp/r/var/tmp/man8s")
        #expect(layout.busybox == "/bin/busybox")
        #expect(layout.bridge == "srvgrp0")
    }

    @Test(arguments: [
        ("/data", "/data"), ("/a/./b/../c/", "/a/c"), ("/../../../../x/cron.d", "/x/cron.d"), ("//srv///app", "/srv/app"),
        ("/data/../../etc", "/etc"), ("/with space", "/with space"),
    ])
    func normalizesVolumePaths(text: String, normalized: String) throws {
        #expect(try VolumePath(text).description == normalized)
    }

    @Test(arguments: ["", "data", "./data", "/", "/..", "/data/../../..", "/a\nb", "/a\u{0}b", "/man8env.env", "/x/../man8env.env"])
    func refusesVolumePaths(text: String) {
        #expect(throws: Man8SError.self) { try VolumePath(text) }
    }

    @Test func workingDirectoryIsAbsoluteAndClean() throws {
        var definition = try machine()
        for (given, written) in [("app", "/app"), ("/srv/../opt/./x", "/opt/x"), ("", "/"), ("../..", "/")] {
            definition.runtime.workingDir = given
            #expect(try NspawnFile.render(definition).contains("WorkingDirectory=\(written)\n"), "\(given)")
        }
    }

    @Test func nspawnValuesThatSystemdWouldReadOtherwiseAreRefused() throws {
        var definition = try machine()
        // A trailing backslash would join the next line to the value.
        definition.runtime.workingDir = "/app\\"
        #expect(throws: Man8SError.self) { try NspawnFile.render(definition) }
        definition.runtime.workingDir = "/app\u{0}/x"
        #expect(throws: Man8SError.self) { try NspawnFile.render(definition) }
        definition.runtime.workingDir = "/app"
        definition.runtime.env = ["PATH=/bin\u{0}/evil"]
        #expect(throws: Man8SError.self) { try NspawnFile.render(definition) }
        // In quotes a trailing backslash is escaped and harmless.
        definition.runtime.env = ["PATH=/bin\\"]
        #expect(try NspawnFile.render(definition).contains("Environment=\"PATH=/bin\\\\\"\n"))
        definition.runtime.env = ["VALUE=a\u{0}b"]
        #expect(throws: Man8SError.self) { try EnvironmentFile.render(definition, version: "0") }
    }

    @Test func theImageCannotSetMbctlsKeys() throws {
        var definition = try machine()
        definition.runtime.env = ["MAN8S_YGGDRASIL_ADDRESS=::1", "MAN8S_ANYTHING=x", "1BAD=x", "NOEQUALS", "GOOD=yes"]
        let rendered = try EnvironmentFile.render(definition, version: "0")
        #expect(rendered.components(separatedBy: "MAN8S_YGGDRASIL_ADDRESS=").count == 2)
        #expect(!rendered.contains("=::1\n") && !rendered.contains("MAN8S_ANYTHING") && !rendered.contains("1BAD"))
        #expect(rendered.hasSuffix("GOOD=yes\n"))
        #expect(definition.droppedEnvironment.count == 4)
    }
}
