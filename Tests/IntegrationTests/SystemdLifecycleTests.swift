import Foundation
import Testing

/// `machines start|stop|enable|status|logs|remove` against a real systemd: a test host booted
/// with systemd (``SystemdTestHost``) runs the machine as `systemd-nspawn@NAME.service`; after
/// a reboot of the test host the enabled machine comes up by itself, and an upgrade that was
/// cut short in the middle of its swap is finished by the unit's `ExecStartPre` before the boot.
@Suite(.serialized, .timeLimit(.minutes(20))) struct SystemdLifecycleTests {
    static let image = """
        {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/app/run.sh"]},
          "layers": [{"entries": [{"path": "app", "type": "dir"}, {"path": "app/version", "content": "v1"},
            {"path": "app/run.sh", "mode": 493, "content": "#!/bin/sh\\necho hello from $(cat /app/version)\\nexec /bin/busybox sleep 600\\n"}]}]}]}
        """

    @Test func machinesLiveThroughSystemd() throws {
        // Not below /tmp: the test host's systemd cleans /tmp.
        let state = "/var/lib/mbctl-systemd-tests/\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        try Self.image.write(toFile: "\(state)/spec.json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(state)/spec.json", "\(state)/layout"])
        let network = try TestNetwork()
        let host = try SystemdTestHost(network: network, state: state)
        defer { host.stop() }
        let name = "lives1"

        let pulled = try host.mbctl(["machines", "pull", "oci:\(state)/layout:t", name, "--prefix", network.prefix, "--busybox", MachineLifecycleTests.busybox])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        let started = try host.mbctl(["machines", "start", name])
        #expect(started.succeeded, "\(started.stderr)")
        try waitFor("the machine's application runs") { try host.mbctl(["machines", "logs", name]).stdout.contains("hello from v1") }
        let status = try host.mbctl(["machines", "status", name])
        #expect(status.stdout.contains("\(name): active since"), "\(status.stdout)")
        #expect(try host.mbctl(["machines", "list"]).stdout.contains("\(name)\tyes\t"))
        #expect(try host.run(["systemctl", "is-active", "systemd-nspawn@\(name).service"]).stdout.hasPrefix("active"))

        #expect(try host.mbctl(["machines", "stop", name]).succeeded)
        let stopped = try host.mbctl(["machines", "status", name]).stdout
        #expect(stopped.contains("\(name): inactive") || stopped.contains("\(name): failed"), "\(stopped)")
        #expect(!RunningCheck.isActive(try host.run(["systemctl", "is-active", "systemd-nspawn@\(name).service"]).stdout))
        let enabled = try host.mbctl(["machines", "enable", name])
        #expect(enabled.succeeded, "\(enabled.stderr)")
        #expect(try host.run(["systemctl", "is-enabled", "systemd-nspawn@\(name).service"]).stdout.hasPrefix("enabled"))
        #expect(FileManager.default.fileExists(atPath: "\(state)/etc/systemd/system/systemd-nspawn@\(name).service.d/50-mbctl.conf"))

        // An upgrade to v2 cut short after it moved the old rootfs away: the machine has no
        // rootfs now, and the journal says what is left to do.
        try cutShortUpgrade(name, in: state)
        #expect(!FileManager.default.fileExists(atPath: "\(state)/var/lib/man8machines/\(name)"))

        // The test host reboots: the enabled machine comes up, as v2, whole.
        host.powerOff()
        try host.boot()
        try waitFor("the machine comes up with the host") { try host.mbctl(["machines", "logs", name]).stdout.contains("hello from v2") }
        #expect(try host.mbctl(["machines", "status", name]).stdout.contains("\(name): active since"))
        #expect(try String(contentsOfFile: "\(state)/var/lib/man8machines/\(name)/app/version", encoding: .utf8) == "v2")
        #expect(!FileManager.default.fileExists(atPath: "\(state)/var/lib/man8machines/.generations/\(name)/journal.json"))

        // Removing a running machine needs --force, which stops it first.
        #expect(try host.mbctl(["machines", "remove", name]).stderr.contains("is running"))
        let removed = try host.mbctl(["machines", "remove", name, "--force"])
        #expect(removed.succeeded, "\(removed.stderr)")
        #expect(!RunningCheck.isActive(try host.run(["systemctl", "is-active", "systemd-nspawn@\(name).service"]).stdout))
        #expect(!FileManager.default.fileExists(atPath: "\(state)/var/lib/man8machines/\(name)"))
        #expect(!FileManager.default.fileExists(atPath: "\(state)/etc/systemd/system/systemd-nspawn@\(name).service.d"))
    }

    /// The state an upgrade leaves when it is killed right after keeping the current rootfs as
    /// generation 1: generation 2 prepared in next/, the journal written, the machine's rootfs
    /// moved away.
    func cutShortUpgrade(_ name: String, in state: String) throws {
        let machines = "\(state)/var/lib/man8machines", generations = "\(machines)/.generations/\(name)"
        let nspawn = "\(state)/etc/systemd/nspawn/\(name).nspawn", environment = "\(state)/var/lib/man8machine_configs/\(name)/man8env.env"
        try FileManager.default.createDirectory(atPath: "\(generations)/next", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(generations)/1", withIntermediateDirectories: true)
        try runCommand(["cp", "-a", "\(machines)/\(name)", "\(generations)/next/rootfs"])
        try "v2".write(toFile: "\(generations)/next/rootfs/app/version", atomically: false, encoding: .utf8)
        let record = try String(contentsOfFile: "\(generations)/current.json", encoding: .utf8)
        try record.replacingOccurrences(of: "\"number\" : 1", with: "\"number\" : 2").write(
            toFile: "\(generations)/next/generation.json", atomically: false, encoding: .utf8)
        for (file, copyName) in [(nspawn, "\(name).nspawn"), (environment, "man8env.env")] {
            try FileManager.default.copyItem(atPath: file, toPath: "\(generations)/next/\(copyName)")
            try FileManager.default.copyItem(atPath: file, toPath: "\(generations)/1/\(copyName)")
        }
        try FileManager.default.copyItem(atPath: "\(generations)/current.json", toPath: "\(generations)/1/generation.json")
        try #"{"incoming":"next","keep":1,"outgoing":1}"#.write(toFile: "\(generations)/journal.json", atomically: false, encoding: .utf8)
        try FileManager.default.moveItem(atPath: "\(machines)/\(name)", toPath: "\(generations)/1/rootfs")
    }

    func waitFor(_ what: String, timeout: TimeInterval = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(200_000)
        }
        Issue.record("timed out waiting until \(what)")
    }
}

/// What `systemctl is-active` prints for a unit that runs (or is about to).
enum RunningCheck {
    static func isActive(_ output: String) -> Bool {
        ["active", "activating", "reloading"].contains(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
