import Foundation
import OCILayout
import Testing

/// `mbctl machines pull/list/remove` under `--root`, from a real registry.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MachineLifecycleTests {
    let work: String
    var root: String { "\(work)/host" }
    static let prefix = "300:2e98:a4b0:1789::/64"
    static let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/bin/busybox"

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-machines-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// An application image: Entrypoint and Cmd with spaces, quotes and `$`; Env values with
    /// spaces and `=`; a WorkingDir; a volume with seed files.
    static let appImage = """
        {"tag": "1.0", "images": [{"platform": "linux/amd64",
          "config": {"Entrypoint": ["/app/run.sh", "first arg"], "Cmd": ["it's", "$HOME"],
                     "Env": ["PATH=/usr/bin:/bin", "GREETING=hello there", "EQUATION=a=b"], "WorkingDir": "/app",
                     "Volumes": {"/app/data": {}}},
          "layers": [{"entries": [{"path": "app", "type": "dir"}, {"path": "app/run.sh", "mode": 493, "content": "#!/bin/sh\\necho run\\n"},
                                  {"path": "app/data", "type": "dir"}, {"path": "app/data/seed.txt", "content": "seed"},
                                  {"path": "run", "type": "dir"}, {"path": "run/image-run-file", "content": "r"}]}]}]}
        """

    func mbctl(_ arguments: [String]) throws -> CommandResult {
        try runMbctl(onTestHost(arguments, root: root))
    }

    func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(root + path, &info) == 0
    }

    @Test func pullListRemoveAndPullAgain() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let digest = try registry.push(spec: Self.appImage, as: "apps/demo", tag: "1.0")
        let image = "\(registry.host)/apps/demo:1.0"

        let pulled = try mbctl(["machines", "pull", image, "web1", "--prefix", Self.prefix, "--volume", "/app/data=data"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        #expect(pulled.stdout.contains("machine web1 made from \(image) (\(digest))"))
        #expect(exists("/var/lib/man8machines/web1/app/run.sh"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/var/lib/machines/web1") == "\(root)/var/lib/man8machines/web1")
        #expect(exists("/var/lib/man8machines/web1/sbin/busybox-init.sh"))
        #expect(exists("/var/lib/man8machines/web1/run.man8sprotected/image-run-file"))
        #expect(try String(contentsOfFile: "\(root)/var/lib/man8machine_storage/web1/app/data/seed.txt", encoding: .utf8) == "seed")
        let nspawn = try String(contentsOfFile: "\(root)/etc/systemd/nspawn/web1.nspawn", encoding: .utf8)
        #expect(nspawn.contains("Bind=\(root)/var/lib/man8machine_storage/web1/app/data:/app/data:idmap"))
        #expect(nspawn.contains("WorkingDirectory=/app"))
        let environment = try String(contentsOfFile: "\(root)/var/lib/man8machine_configs/web1/man8env.env", encoding: .utf8)
        #expect(environment.contains("MAN8S_APPLICATION_ARGS=/app/run.sh 'first arg' 'it'\"'\"'s' '$HOME'\n"))
        #expect(
            environment.contains(
                "MAN8S_YGGDRASIL_ADDRESS=\(try runMbctl(["address", "getsuffix", "web1", "--prefix", Self.prefix]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))\n"
            ))
        #expect(environment.contains("EQUATION=a=b\n"))

        let list = try mbctl(["machines", "list", "--json"])
        #expect(list.stdout.contains("\"name\" : \"web1\""))
        #expect(list.stdout.contains(digest))
        #expect(list.stdout.contains("\"running\" : false"))

        // The name is taken now.
        let again = try mbctl(["machines", "pull", image, "web1", "--prefix", Self.prefix, "--volume", "/app/data=data"])
        #expect(!again.succeeded)
        #expect(again.stderr.contains("machine web1 already exists"))

        // Remove: the machine goes, configuration and data stay.
        try "edited by the user".write(toFile: "\(root)/var/lib/man8machine_storage/web1/app/data/seed.txt", atomically: true, encoding: .utf8)
        let removed = try mbctl(["machines", "remove", "web1"])
        #expect(removed.succeeded, "\(removed.stderr)")
        #expect(!exists("/var/lib/man8machines/web1") && !exists("/var/lib/machines/web1") && !exists("/etc/systemd/nspawn/web1.nspawn"))
        #expect(exists("/var/lib/man8machine_configs/web1/man8env.env"))
        #expect(try mbctl(["machines", "remove", "web1"]).stderr.contains("no such machine: web1"))

        // Pulled again: the user's data is reused and not overwritten; the old env file is kept aside.
        let repulled = try mbctl(["machines", "pull", image, "web1", "--prefix", Self.prefix, "--volume", "/app/data=data"])
        #expect(repulled.succeeded, "\(repulled.stderr)")
        #expect(repulled.stdout.contains("reused existing \(root)/var/lib/man8machine_storage/web1"))
        #expect(try String(contentsOfFile: "\(root)/var/lib/man8machine_storage/web1/app/data/seed.txt", encoding: .utf8) == "edited by the user")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: "\(root)/var/lib/man8machine_configs/web1").contains { $0.hasPrefix("man8env.env.previous-") })
    }

    @Test func refusesWithoutLeavingAnythingBehind() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: Self.appImage, as: "apps/demo", tag: "1.0")
        let image = "\(registry.host)/apps/demo:1.0"

        let unanswered = try mbctl(["machines", "pull", image, "web2", "--prefix", Self.prefix])
        #expect(!unanswered.succeeded)
        #expect(unanswered.stderr.contains("--volume /app/data=config|data|skip|/host/path"))
        #expect(!exists("/var/lib/man8machines/web2") && !exists("/var/lib/man8machine_configs/web2") && !exists("/var/lib/man8machine_storage/web2"))

        for bad in ["../etc", ".hidden", "a/b", String(repeating: "n", count: 65)] {
            let result = try mbctl(["machines", "pull", image, bad, "--prefix", Self.prefix, "--volume", "/app/data=skip"])
            #expect(result.stderr.contains("invalid machine name"), "\(bad): \(result.stderr)")
        }

        // Another machine already has the address this name would get, as mbctl recorded it.
        let address = try runMbctl(["address", "getsuffix", "web3", "--prefix", Self.prefix]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let records = "\(root)/var/lib/man8machines/.generations/other"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: true)
        try #"{"number": 1, "image": "other:1", "address": "\#(address)", "createdAt": "2026-01-01T00:00:00Z", "volumes": [], "written": ""}"#
            .write(toFile: "\(records)/current.json", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(root)/etc/systemd/nspawn", withIntermediateDirectories: true)
        try "".write(toFile: "\(root)/etc/systemd/nspawn/other.nspawn", atomically: true, encoding: .utf8)
        let collision = try mbctl(["machines", "pull", image, "web3", "--prefix", Self.prefix, "--volume", "/app/data=skip"])
        #expect(!collision.succeeded)
        #expect(collision.stderr.contains("which machine other already has"))

        // An image whose env cannot be written: fails after unpacking, and everything goes.
        let broken = """
            {"tag": "bad", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"], "Env": ["BAD=line\\nbreak"]},
              "layers": [{"entries": [{"path": "file", "content": "x"}]}]}]}
            """
        try registry.push(spec: broken, as: "apps/broken", tag: "bad")
        let failed = try mbctl(["machines", "pull", "\(registry.host)/apps/broken:bad", "web4", "--prefix", Self.prefix])
        #expect(!failed.succeeded)
        #expect(failed.stderr.contains("line break"))
        #expect(!exists("/var/lib/man8machines/web4") && !exists("/var/lib/man8machine_configs/web4") && !exists("/var/lib/man8machine_storage/web4"))
        // Directories this run made, even /var/lib/man8machines itself under the fresh root, are gone.
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/var/lib/man8machines"))?.filter { $0.contains(".mbctl-") } ?? []
        #expect(staging.isEmpty)
    }

    @Test func takesPathsBridgeAndPrefixFromTheConfigFile() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: Self.appImage, as: "apps/demo", tag: "1.0")
        try FileManager.default.createDirectory(atPath: "\(root)/etc/mbctl", withIntermediateDirectories: true)
        try """
        [paths]
        machines = "/srv/rootfs"
        storage = "/srv/data"
        [network]
        bridge = "br-test"
        prefix = "301:1:2:3::/64"
        """.write(toFile: "\(root)/etc/mbctl/config.toml", atomically: true, encoding: .utf8)
        let pulled = try mbctl(["machines", "pull", "\(registry.host)/apps/demo:1.0", "cfg1", "--volume", "/app/data=data"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        let address = try runMbctl(["address", "getsuffix", "cfg1", "--prefix", "301:1:2:3::/64"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(pulled.stdout.contains("address \(address)"))
        #expect(exists("/srv/rootfs/cfg1/app/run.sh"))
        #expect(exists("/srv/data/cfg1/app/data/seed.txt"))
        let nspawn = try String(contentsOfFile: "\(root)/etc/systemd/nspawn/cfg1.nspawn", encoding: .utf8)
        #expect(nspawn.contains("Bridge=br-test\n"))
        // A typo in the file is an error naming the line.
        try "[network]\nbrige = \"x\"\n".write(toFile: "\(root)/etc/mbctl/config.toml", atomically: true, encoding: .utf8)
        #expect(try mbctl(["machines", "list"]).stderr.contains("config.toml, line 2: unknown key brige in [network]"))
    }

    @Test func interruptedPullLeavesNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        try registry.push(spec: ImageSpecs.large(megabytes: 40), as: "apps/large", tag: "large")
        let pull = try BackgroundProcess(
            [
                TestPaths.mbctl, "machines", "pull", "--limit-rate", "8000000", "\(registry.host)/apps/large:large", "big",
                "--prefix", Self.prefix, "--root", root, "--busybox", Self.busybox,
            ],
            logPath: "\(work)/pull.log", environment: mbctlEnvironment())
        // Wait until the layer is 2 MiB into its download (and into the staging rootfs), then
        // interrupt as Ctrl-C would.
        let deadline = Date().addingTimeInterval(30)
        func partialBytes() -> Int {
            let ingest = "\(root)/var/tmp/man8s/.ingest"
            return ((try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? [])
                .compactMap { try? FileManager.default.attributesOfItem(atPath: "\(ingest)/\($0)")[.size] as? Int }.max() ?? 0
        }
        while Date() < deadline && pull.process.isRunning && partialBytes() < 2 << 20 {
            usleep(20_000)
        }
        kill(pull.process.processIdentifier, SIGINT)
        try pull.waitForExit()
        // It undid its work and exited as a shell expects of Ctrl-C (128 + SIGINT), saying so in
        // one line, rather than being killed by the signal.
        #expect(!pull.process.endedBySignal && pull.process.terminationStatus == 130, "\(pull.log)")
        #expect(pull.log.contains("interrupted; nothing half-made was left") && !pull.log.contains("CancellationError"), "\(pull.log)")
        for path in [
            "/var/lib/man8machines/big", "/var/lib/machines/big", "/etc/systemd/nspawn/big.nspawn",
            "/var/lib/man8machine_configs/big", "/var/lib/man8machine_storage/big",
        ] {
            #expect(!exists(path), "\(path) was left behind")
        }
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/var/lib/man8machines"))?.filter { $0.contains(".mbctl-") } ?? []
        #expect(staging.isEmpty)
    }
}

/// The prefix asked from a real yggdrasil over its admin socket.
@Suite(.timeLimit(.minutes(10))) struct YggdrasilPrefixTests {
    @Test func pullTakesThePrefixFromYggdrasil() throws {
        let work = NSTemporaryDirectory() + "mbctl-ygg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(work)/host/etc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        // A yggdrasil that talks to nobody: no peers, no listeners, no multicast, no TUN.
        let generated = try runCommand(["yggdrasil", "-genconf", "-json"]).stdout
        let key = try #require((try JSONSerialization.jsonObject(with: Data(generated.utf8)) as? [String: Any])?["PrivateKey"] as? String)
        let socket = "\(work)/admin.sock"
        try """
        {"PrivateKey": "\(key)", "Peers": [], "InterfacePeers": {}, "Listen": [], "MulticastInterfaces": [],
         "AdminListen": "unix://\(socket)", "IfName": "none"}
        """.write(toFile: "\(work)/host/etc/yggdrasil.conf", atomically: true, encoding: .utf8)
        let yggdrasil = try BackgroundProcess(["yggdrasil", "-useconffile", "\(work)/host/etc/yggdrasil.conf"], logPath: "\(work)/yggdrasil.log")
        defer { yggdrasil.stop() }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        let subnet = try runCommand(["yggdrasilctl", "-endpoint", "unix://\(socket)", "-json", "getself"]).stdout
        let expected = try #require((try JSONSerialization.jsonObject(with: Data(subnet.utf8)) as? [String: Any])?["subnet"] as? String)

        let layout = try makeSmallLayout(in: work)
        let result = try runMbctl(["machines", "pull", "oci:\(layout):small", "ygg1", "--root", "\(work)/host", "--busybox", MachineLifecycleTests.busybox])
        #expect(result.succeeded, "\(result.stderr)\n\(yggdrasil.log)")
        let address = try runMbctl(["address", "getsuffix", "ygg1", "--prefix", expected]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(result.stdout.contains("address \(address)"), "\(result.stdout)")

        yggdrasil.stop()
        let without = try runMbctl(["machines", "pull", "oci:\(layout):small", "ygg2", "--root", "\(work)/host", "--busybox", MachineLifecycleTests.busybox])
        #expect(!without.succeeded)
        #expect(without.stderr.contains("no yggdrasil prefix: pass --prefix"))
    }

    func makeSmallLayout(in work: String) throws -> String {
        let spec = """
            {"tag": "small", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"]}, "layers": [{"entries": [{"path": "hello", "content": "hello"}]}]}]}
            """
        try spec.write(toFile: "\(work)/small.json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/small.json", "\(work)/small"])
        return "\(work)/small"
    }
}
