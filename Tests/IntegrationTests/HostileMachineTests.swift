import Foundation
import Testing

/// A running machine attacks its host through what it can write: its own `man8env.env` (bound
/// into it) and its volumes. Each case writes what the machine's root could write, as the
/// machine would, and then runs the operator's commands: none of them takes mbctl's facts from
/// that file, waits on what the machine planted, or prints its escapes raw.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HostileMachineTests {
    let work: String
    var root: String { "\(work)/host" }
    static let prefix = "300:2e98:a4b0:1789::/64"

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-hostile-machine-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: work) }

    func mbctl(_ arguments: [String]) throws -> CommandResult {
        try runMbctl(onTestHost(arguments, root: root))
    }

    /// An OCI layout at `work/NAME` (tag `t`) whose rootfs has `/marker` holding `marker`.
    func layout(_ name: String, marker: String) throws -> String {
        let spec = """
            {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"]},
              "layers": [{"compression": "none", "entries": [{"path": "marker", "content": "\(marker)"}]}]}]}
            """
        try spec.write(toFile: "\(work)/\(name).json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/\(name).json", "\(work)/\(name)"])
        return "oci:\(work)/\(name):t"
    }

    var environmentFile: String { "\(root)/var/lib/man8machine_configs/web/man8env.env" }

    /// What the machine's root does: appends `line` to the man8env.env bound into it.
    func machineWrites(_ line: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: environmentFile))
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try handle.close()
    }

    func marker(of machine: String) -> String? {
        try? String(contentsOfFile: "\(root)/var/lib/man8machines/\(machine)/marker", encoding: .utf8)
    }

    func address(of machine: String) throws -> String {
        try runMbctl(["address", "getsuffix", machine, "--prefix", Self.prefix], check: true).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func digest(of image: String) throws -> String {
        let inspected = try runMbctl(["oci", "inspect", image, "--cache-dir", "\(work)/inspect-cache"], check: true).stdout
        let line = inspected.split(separator: "\n").first { $0.hasPrefix("Digest:") }
        return String(line?.split(separator: " ").last ?? "")
    }

    @Test func theMachineCannotChooseItsNextImageNorSendTheOperatorsCredentials() throws {
        defer { cleanUp() }
        let app = try layout("app", marker: "app v1")
        let other = try layout("other-tenant", marker: "the other tenant's secret")
        #expect(try mbctl(["machines", "pull", app, "web", "--prefix", Self.prefix]).succeeded)

        // Another tenant's image, named by the machine.
        try machineWrites("MAN8S_OCI_IMAGE_URL=\(other)")
        let upgraded = try mbctl(["machines", "upgrade", "web"])
        #expect(upgraded.succeeded, "\(upgraded.stderr)")
        #expect(upgraded.stdout.contains("web is up to date"), "\(upgraded.stdout)")
        #expect(marker(of: "web") == "app v1")

        // A registry of the attacker's, with the operator's credentials on the command line: no
        // connection ever reaches it.
        let port = try freeLoopbackPort()
        let listener = try BackgroundProcess(
            [
                "python3", "-c",
                """
                import socket, sys
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", \(port))); s.listen(8)
                print("listening", flush=True)
                while True:
                    c, _ = s.accept(); print("CONNECTION", c.recv(4096), flush=True); c.close()
                """,
            ],
            logPath: "\(work)/attacker.log")
        defer { listener.stop() }
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && !listener.log.contains("listening") { usleep(20_000) }
        try #require(listener.log.contains("listening"))
        try machineWrites("MAN8S_OCI_IMAGE_URL=docker://127.0.0.1:\(port)/x:t")
        let withCredentials = try mbctl(["machines", "upgrade", "web", "--creds", "operator:s3cret"])
        #expect(withCredentials.succeeded, "\(withCredentials.stderr)")
        #expect(withCredentials.stdout.contains("web is up to date"))
        #expect(!listener.log.contains("CONNECTION"), "mbctl connected to the machine's registry: \(listener.log)")

        // A FIFO in the machine's volume as its image: nothing waits on it.
        try runCommand(["mkfifo", "\(work)/fifo"])
        try machineWrites("MAN8S_OCI_IMAGE_URL=oci-archive:\(work)/fifo")
        let fromFIFO = try runMbctl(onTestHost(["machines", "upgrade", "web"], root: root), deadline: 30)
        #expect(fromFIFO.succeeded && fromFIFO.stdout.contains("web is up to date"), "\(fromFIFO.stderr)")

        // What list and show say is mbctl's record, not the machine's lines.
        let listed = try mbctl(["machines", "list"]).stdout
        #expect(listed.contains(app) && !listed.contains("other-tenant") && !listed.contains("fifo"), "\(listed)")
    }

    @Test func aFIFOWhereAnImageFileShouldBeFailsAtOnce() throws {
        defer { cleanUp() }
        try runCommand(["mkfifo", "\(work)/fifo"])
        for source in ["oci-archive:\(work)/fifo", "docker-archive:\(work)/fifo"] {
            let started = Date()
            let inspected = try runMbctl(["oci", "inspect", source, "--cache-dir", "\(work)/cache"], deadline: 30)
            #expect(!inspected.succeeded)
            #expect(inspected.stderr.contains("\(work)/fifo is a FIFO, not a regular file"), "\(inspected.stderr)")
            #expect(Date().timeIntervalSince(started) < 10)
        }
        // A layout whose index.json is a FIFO.
        try FileManager.default.createDirectory(atPath: "\(work)/layout", withIntermediateDirectories: true)
        try #"{"imageLayoutVersion": "1.0.0"}"#.write(toFile: "\(work)/layout/oci-layout", atomically: true, encoding: .utf8)
        try runCommand(["mkfifo", "\(work)/layout/index.json"])
        let layout = try runMbctl(["oci", "inspect", "oci:\(work)/layout", "--cache-dir", "\(work)/cache"], deadline: 30)
        #expect(!layout.succeeded && layout.stderr.contains("index.json is a FIFO"), "\(layout.stderr)")
    }

    @Test func theDigestAndAddressLinesOfTheMachineChangeNothing() throws {
        defer { cleanUp() }
        let v1 = try layout("app1", marker: "app v1")
        let v2 = try layout("app2", marker: "app v2")
        let v2Digest = try digest(of: v2)
        #expect(v2Digest.hasPrefix("sha256:"))
        #expect(try mbctl(["machines", "pull", v1, "web", "--prefix", Self.prefix]).succeeded)
        let webAddress = try address(of: "web"), victimAddress = try address(of: "victim")

        // The machine claims v2 already, and another machine's address.
        try machineWrites("MAN8S_OCI_IMAGE_DIGEST=\(v2Digest)")
        try machineWrites("MAN8S_YGGDRASIL_ADDRESS=\(victimAddress)")
        let listed = try mbctl(["machines", "list", "--json"]).stdout
        #expect(listed.contains(webAddress) && !listed.contains(victimAddress) && !listed.contains(v2Digest), "\(listed)")

        // The victim can still be made: the address is its own.
        let victim = try mbctl(["machines", "pull", v1, "victim", "--prefix", Self.prefix])
        #expect(victim.succeeded, "\(victim.stderr)")

        // The upgrade happens, and the machine keeps its own address.
        let upgraded = try mbctl(["machines", "upgrade", "web", v2])
        #expect(upgraded.succeeded && upgraded.stdout.contains("upgraded web to \(v2Digest)"), "\(upgraded.stdout)\(upgraded.stderr)")
        #expect(marker(of: "web") == "app v2")
        let shown = try mbctl(["machines", "show", "web", "--json"]).stdout
        #expect(shown.contains("\"address\" : \"\(webAddress)\"") && !shown.contains("\"address\" : \"\(victimAddress)\""), "\(shown)")
        // The upgraded man8env.env has mbctl's address first (the machine's own line stays its data).
        let environment = try String(contentsOfFile: environmentFile, encoding: .utf8)
        #expect(
            environment.hasPrefix("MAN8S_CONTAINER_NAME=web\nMAN8S_CONTAINER_TEMPLATE=network_isolated\nMAN8S_YGGDRASIL_ADDRESS=\(webAddress)\n"),
            "\(environment)")
        // Another pull of the victim's address is still refused: the record, not the env file, says whose it is.
        #expect(try mbctl(["machines", "remove", "victim"]).succeeded)
        let again = try mbctl(["machines", "pull", v1, "victim", "--prefix", Self.prefix])
        #expect(again.succeeded, "\(again.stderr)")
    }

    @Test func whatTheMachineWroteIsPrintedEscaped() throws {
        defer { cleanUp() }
        let app = try layout("app", marker: "app v1")
        #expect(try mbctl(["machines", "pull", app, "web", "--prefix", Self.prefix]).succeeded)
        try machineWrites("MAN8S_OCI_IMAGE_URL=x\u{1b}[2K\r\u{1b}[32mall up to date\u{1b}]0;owned\u{07}")
        try machineWrites("\u{1b}[2K\u{1b}[31mEVIL\u{9b}=1")
        for command in [["machines", "list"], ["machines", "show", "web"], ["machines", "status", "web"], ["machines", "show", "web", "--json"]] {
            let result = try mbctl(command)
            #expect(result.succeeded, "\(command): \(result.stderr)")
            let printed = result.stdout + result.stderr
            #expect(
                !printed.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{07}" || $0 == "\r" || $0 == "\u{9b}" },
                "\(command) printed raw control characters")
            #expect(!printed.contains("all up to date"), "\(command) took the machine's image line")
        }
        let shown = try mbctl(["machines", "show", "web"]).stdout
        #expect(shown.contains("your settings") && shown.contains("\\e[2K\\e[31mEVIL\\u{009b}"), "\(shown)")
        // An error that carries foreign text: escaped too.
        let failed = try runMbctl(["oci", "inspect", "oci:\(work)/no\u{1b}]0;owned\u{07}where", "--cache-dir", "\(work)/cache"])
        #expect(!failed.succeeded)
        #expect(!failed.stderr.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{07}" } && failed.stderr.contains("\\e]0;owned\\x07"), "\(failed.stderr)")
    }

    @Test func aSymlinkInPlaceOfTheEnvFileIsNamedAndWedgesNothing() throws {
        defer { cleanUp() }
        let v1 = try layout("app1", marker: "app v1")
        let v2 = try layout("app2", marker: "app v2")
        #expect(try mbctl(["machines", "pull", v1, "web", "--prefix", Self.prefix]).succeeded)
        let victim = "\(work)/victim.txt"
        try "the host's file\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: environmentFile)
        try FileManager.default.createSymbolicLink(atPath: environmentFile, withDestinationPath: victim)

        let upgraded = try mbctl(["machines", "upgrade", "web", v2])
        #expect(!upgraded.succeeded)
        #expect(upgraded.stderr.contains("\(environmentFile) is a symlink, not a regular file"), "\(upgraded.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machines/.generations/web/journal.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machines/.generations/web/next"))
        #expect(marker(of: "web") == "app v1")
        // Nothing is wedged: recover, rollback and the next upgrade each say what they do.
        #expect(try mbctl(["machines", "recover", "web"]).succeeded)
        let rollback = try mbctl(["machines", "rollback", "web"])
        #expect(rollback.stderr.contains("has no previous generation"), "\(rollback.stderr)")
        try FileManager.default.removeItem(atPath: environmentFile)
        let retried = try mbctl(["machines", "upgrade", "web", v2])
        #expect(retried.succeeded, "\(retried.stderr)")
        #expect(marker(of: "web") == "app v2")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "the host's file\n")
    }

    @Test func aConfigurationDirectoryReplacedByALinkIsAnErrorNotAnEmptyEnvFile() throws {
        defer { cleanUp() }
        let v1 = try layout("app1", marker: "app v1")
        let v2 = try layout("app2", marker: "app v2")
        #expect(try mbctl(["machines", "pull", v1, "web", "--prefix", Self.prefix]).succeeded)
        let configuration = "\(root)/var/lib/man8machine_configs/web"
        try FileManager.default.moveItem(atPath: configuration, toPath: "\(work)/moved")
        try FileManager.default.createDirectory(atPath: "\(work)/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: configuration, withDestinationPath: "\(work)/elsewhere")
        let upgraded = try mbctl(["machines", "upgrade", "web", v2])
        #expect(!upgraded.succeeded && upgraded.stderr.contains(configuration), "\(upgraded.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machines/.generations/web/journal.json"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(work)/elsewhere").isEmpty)
        #expect(marker(of: "web") == "app v1")
    }

    @Test func anOversizedEnvFileIsRefusedNotCut() throws {
        defer { cleanUp() }
        let v1 = try layout("app1", marker: "app v1")
        let v2 = try layout("app2", marker: "app v2")
        #expect(try mbctl(["machines", "pull", v1, "web", "--prefix", Self.prefix]).succeeded)
        try machineWrites("PADDING=" + String(repeating: "x", count: 1 << 20))
        let before = try Data(contentsOf: URL(fileURLWithPath: environmentFile))
        let upgraded = try mbctl(["machines", "upgrade", "web", v2])
        #expect(!upgraded.succeeded && upgraded.stderr.contains("larger than 1 MiB"), "\(upgraded.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: environmentFile)) == before)
        #expect(marker(of: "web") == "app v1")
    }
}
