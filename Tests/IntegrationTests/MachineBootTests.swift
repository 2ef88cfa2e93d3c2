import Foundation
import Testing

/// The whole Man8S job, end to end, as root: an image in a loopback registry becomes a machine
/// with `mbctl machines pull`, which boots under systemd-nspawn on a bridge in a network
/// namespace of its own, runs its application with exactly the image's arguments, environment
/// and working directory, gets a DHCP lease and its fixed yggdrasil address, and answers ping.
/// One of its volumes is a symlink in the image: it is bound from a real directory mbctl made.
@Suite(.serialized, .timeLimit(.minutes(20))) struct MachineBootTests {
    static let image = """
        {"tag": "1.0", "images": [{"platform": "linux/amd64",
          "config": {"Entrypoint": ["/app/run.sh", "first arg"], "Cmd": ["it's", "$HOME", "a\\"b"],
                     "Env": ["PATH=/usr/bin:/bin", "GREETING=hello there", "EQUATION=a=b=c"], "WorkingDir": "/app",
                     "Volumes": {"/app/data": {}, "/srv/state": {}}},
          "layers": [{"entries": [
            {"path": "app", "type": "dir"}, {"path": "app/data", "type": "dir"}, {"path": "app/data/seed.txt", "content": "seed from the image"},
            {"path": "srv", "type": "dir"}, {"path": "srv/state", "type": "symlink", "target": "/var/lib/state"},
            {"path": "var/lib/state", "type": "dir"}, {"path": "var/lib/state/seed-state.txt", "content": "state seed"},
            {"path": "app/run.sh", "mode": 493, "content": "#!/bin/sh\\nout=/app/data/record\\n{\\n  for a in \\"$@\\"; do printf 'arg[%s]' \\"$a\\"; done; echo\\n  echo \\"cwd=$(pwd)\\"\\n  echo \\"GREETING=$GREETING\\"\\n  echo \\"EQUATION=$EQUATION\\"\\n  echo \\"NAME=$MAN8S_CONTAINER_NAME\\"\\n  /bin/busybox ip -4 addr show\\n  /bin/busybox ip -6 addr show\\n  /bin/busybox ls /app/data\\n  { echo MAN8S_OCI_IMAGE_URL=docker://attacker.example/x; } 2>/dev/null >> /man8env.env && echo env=writable || echo env=read-only\\n} > $out.tmp\\necho from-the-app > /srv/state/by-app\\n/bin/busybox mv $out.tmp $out\\nexec /bin/busybox sleep 600\\n"}]}]}]}
        """

    @Test func pullsBootsAndReachesAMachine() throws {
        let work = NSTemporaryDirectory() + "mbctl-boot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let root = "\(work)/host"
        func mbctl(_ arguments: [String]) throws -> CommandResult {
            try runMbctl(onTestHost(arguments, root: root))
        }

        let registry = try TestRegistry()
        try registry.push(spec: Self.image, as: "apps/boot", tag: "1.0")
        let network = try TestNetwork()
        let name = "BootTest1"

        let pulled = try mbctl([
            "machines", "pull", "\(registry.host)/apps/boot:1.0", name, "--prefix", network.prefix, "--volume", "/app/data=data", "--volume", "/srv/state=data",
        ])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        let address = try runMbctl(["address", "getsuffix", name, "--prefix", network.prefix]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let machine = try network.boot(machine: name, directory: "\(root)/var/lib/machines/\(name)", nspawnFile: "\(root)/etc/systemd/nspawn/\(name).nspawn")
        let record = "\(root)/var/lib/man8machine_storage/\(name)/app/data/record"
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline && !FileManager.default.fileExists(atPath: record) { usleep(100_000) }
        let recorded = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
        #expect(!recorded.isEmpty, "the application did not run; console:\n\(machine.log)")

        // Exactly the image's arguments, environment and working directory.
        #expect(recorded.contains("arg[first arg]arg[it's]arg[$HOME]arg[a\"b]\n"), "\(recorded)")
        #expect(recorded.contains("cwd=/app\n"))
        #expect(recorded.contains("GREETING=hello there\n"))
        #expect(recorded.contains("EQUATION=a=b=c\n"))
        #expect(recorded.contains("NAME=\(name)\n"))
        // The machine's root cannot rewrite its man8env.env (bound read-only).
        #expect(recorded.contains("env=read-only\n"), "\(recorded)")
        #expect(try !String(contentsOfFile: "\(root)/var/lib/man8machine_configs/\(name)/man8env.env", encoding: .utf8).contains("attacker"))
        // The DHCP lease and the fixed yggdrasil address.
        #expect(recorded.contains("inet 10.199.0."), "\(recorded)")
        #expect(recorded.contains("inet6 \(address)/128"), "\(recorded)")
        // The volume's seed file is in the host's data directory and visible inside.
        #expect(recorded.contains("seed.txt"))
        #expect(try String(contentsOfFile: "\(root)/var/lib/man8machine_storage/\(name)/app/data/seed.txt", encoding: .utf8) == "seed from the image")
        // The volume that is a symlink in the image: seeded from where the link leads inside the
        // image, bound from a real directory of the machine's, written there by the application.
        let state = "\(root)/var/lib/man8machine_storage/\(name)/srv/state"
        var info = stat()
        #expect(lstat(state, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR)
        #expect(try String(contentsOfFile: "\(state)/seed-state.txt", encoding: .utf8) == "state seed")
        #expect(try String(contentsOfFile: "\(state)/by-app", encoding: .utf8) == "from-the-app\n")

        // The host reaches the machine at its yggdrasil address.
        var pinged = false
        for _ in 0..<15 where !pinged {
            pinged = try network.inside(["busybox", "ping", "-6", "-c", "1", "-W", "2", address], check: false).succeeded
            if !pinged { usleep(500_000) }
        }
        #expect(pinged, "no answer from \(address); console:\n\(machine.log)")

        // shell runs a command inside the running machine; list sees it run; remove refuses.
        let shell = try mbctl(["machines", "shell", name, "--command", "cat /app/data/seed.txt; echo; hostname"])
        #expect(shell.stdout.contains("seed from the image"), "\(shell.stderr)")
        #expect(try mbctl(["machines", "list"]).stdout.contains("\(name)\tyes\t-\t-\t\(address)"))
        let refused = try mbctl(["machines", "remove", name])
        #expect(refused.stderr.contains("is running"))

        machine.stop()
        let removed = try mbctl(["machines", "remove", name])
        #expect(removed.succeeded, "\(removed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machines/\(name)"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machine_configs/\(name)/man8env.env"))
        #expect(FileManager.default.fileExists(atPath: record))
    }
}
