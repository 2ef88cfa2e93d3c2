import Foundation
import Testing

/// A machine over its lifetime, booted for real at each step: images v1 and v2 pushed in turn
/// under one tag; pull v1 and boot; an upgrade with nothing new changes nothing; upgrade to v2
/// and boot (v2 runs, v1's data is there, the user's env line is kept, a volume new in v2 is
/// seeded and bound); rollback and boot (v1 runs); an upgrade killed half-way leaves a machine
/// that boots, and the next one completes.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MachineUpgradeTests {
    let work: String
    var root: String { "\(work)/host" }
    let name = "Upgraded1"

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-upgrade-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// Version `version` of the application: it records what it sees in its data volume (and,
    /// in v2, writes into its new logs volume), then waits.
    static func image(version: Int, size: Int = 0) -> String {
        let logs = version >= 2
        let script = [
            "#!/bin/sh",
            "out=/app/data/record",
            "{ echo version=\(version); echo user=$USER_SETTING; /bin/busybox ls /app/data; \(logs ? "/bin/busybox ls /app/logs;" : "") } > $out.tmp",
            "[ -f /app/data/from-v1 ] || echo written by v\(version) > /app/data/from-v1",
            logs ? "echo v2 was here > /app/logs/by-v2" : "",
            "/bin/busybox mv $out.tmp $out",
            "exec /bin/busybox sleep 600",
        ].joined(separator: "\\n")
        let volumes = logs ? #"{"/app/data": {}, "/app/logs": {}}"# : #"{"/app/data": {}}"#
        let extra = logs ? #", {"path": "app/logs", "type": "dir"}, {"path": "app/logs/seed.log", "content": "seeded by v2"}"# : ""
        let padding = size > 0 ? #", {"path": "padding.bin", "type": "random", "size": \#(size), "seed": 8}"# : ""
        return """
            {"tag": "t", "images": [{"platform": "linux/amd64",
              "config": {"Cmd": ["/app/run.sh"], "Env": ["PATH=/bin", "VERSION=\(version)"], "Volumes": \(volumes)},
              "layers": [{"compression": "none", "entries": [{"path": "app", "type": "dir"}, {"path": "app/data", "type": "dir"},
                {"path": "app/run.sh", "mode": 493, "content": "\(script)\\n"}\(extra)\(padding)]}]}]}
            """
    }

    func mbctl(_ arguments: [String]) throws -> CommandResult {
        try runMbctl(onTestHost(arguments, root: root))
    }

    var record: String { "\(root)/var/lib/man8machine_storage/\(name)/app/data/record" }

    /// Boots the machine, waits for its application to record what it sees, stops it.
    func boot(_ network: TestNetwork) throws -> String {
        try? FileManager.default.removeItem(atPath: record)
        let machine = try network.boot(machine: name, directory: "\(root)/var/lib/machines/\(name)", nspawnFile: "\(root)/etc/systemd/nspawn/\(name).nspawn")
        defer { machine.stop() }
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline && !FileManager.default.fileExists(atPath: record) && machine.process.isRunning { usleep(100_000) }
        let recorded = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
        #expect(!recorded.isEmpty, "the machine did not run its application; console:\n\(machine.log)")
        return recorded
    }

    /// The files an upgrade swaps: their bytes, and the rootfs's inode.
    func machineFiles() throws -> [String] {
        var info = stat()
        _ = lstat("\(root)/var/lib/man8machines/\(name)", &info)
        return [
            try String(contentsOfFile: "\(root)/etc/systemd/nspawn/\(name).nspawn", encoding: .utf8),
            try String(contentsOfFile: "\(root)/var/lib/man8machine_configs/\(name)/man8env.env", encoding: .utf8),
            "\(info.st_ino)",
        ]
    }

    @Test func upgradesRollsBackAndSurvivesAKilledUpgrade() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let registry = try TestRegistry()
        let network = try TestNetwork()
        let image = "\(registry.host)/apps/upgraded:t"
        try registry.push(spec: Self.image(version: 1), as: "apps/upgraded", tag: "t")

        let pulled = try mbctl(["machines", "pull", image, name, "--prefix", network.prefix, "--volume", "/app/data=data"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        #expect(try boot(network).contains("version=1"))
        // A line of the user's own.
        let environment = "\(root)/var/lib/man8machine_configs/\(name)/man8env.env"
        try (try String(contentsOfFile: environment, encoding: .utf8) + "USER_SETTING=kept\n").write(toFile: environment, atomically: true, encoding: .utf8)

        // Nothing new: nothing changes.
        let before = try machineFiles()
        let same = try mbctl(["machines", "upgrade", name])
        #expect(same.succeeded, "\(same.stderr)")
        #expect(same.stdout.contains("\(name) is up to date (sha256:"), "\(same.stdout)")
        #expect(try machineFiles() == before)

        // v2 under the same tag.
        let v2 = try registry.push(spec: Self.image(version: 2), as: "apps/upgraded", tag: "t")
        let upgraded = try mbctl(["machines", "upgrade", name, "--volume", "/app/logs=data"])
        #expect(upgraded.succeeded, "\(upgraded.stderr)")
        #expect(upgraded.stdout.contains("upgraded \(name) to \(v2) (generation 2)"), "\(upgraded.stdout)")
        #expect(upgraded.stdout.contains("new volume /app/logs seeded into \(root)/var/lib/man8machine_storage/\(name)/app/logs"))
        let second = try boot(network)
        #expect(second.contains("version=2"), "\(second)")
        #expect(second.contains("user=kept"), "the user's line was lost: \(second)")
        #expect(second.contains("from-v1") && second.contains("seed.log"), "\(second)")
        #expect(try String(contentsOfFile: "\(root)/var/lib/man8machine_storage/\(name)/app/data/from-v1", encoding: .utf8) == "written by v1\n")
        #expect(try String(contentsOfFile: "\(root)/var/lib/man8machine_storage/\(name)/app/logs/by-v2", encoding: .utf8) == "v2 was here\n")
        let status = try mbctl(["machines", "status", name])
        #expect(status.stdout.contains("generation  2; kept for rollback: 1 (\(image))"), "\(status.stdout)")

        // Back to v1, and it boots; the user's line came back with it.
        let rolledBack = try mbctl(["machines", "rollback", name])
        #expect(rolledBack.succeeded, "\(rolledBack.stderr)")
        let first = try boot(network)
        #expect(first.contains("version=1") && first.contains("user=kept"), "\(first)")

        // An upgrade killed while it builds the new generation: v1 still boots, and the next
        // upgrade completes.
        try registry.push(spec: Self.image(version: 3, size: 24 << 20), as: "apps/upgraded", tag: "t")
        let killed = try BackgroundProcess(
            [
                TestPaths.mbctl, "machines", "upgrade", name, "--limit-rate", "4000000", "--volume", "/app/logs=data",
                "--root", root, "--busybox", MachineLifecycleTests.busybox,
            ],
            logPath: "\(work)/killed.log", environment: mbctlEnvironment())
        let next = "\(root)/var/lib/man8machines/.generations/\(name)/next/rootfs/padding.bin"
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && killed.process.isRunning && !FileManager.default.fileExists(atPath: next) { usleep(10_000) }
        killed.stop(abruptly: true)
        #expect(try boot(network).contains("version=1"))
        let completed = try mbctl(["machines", "upgrade", name, "--volume", "/app/logs=data"])
        #expect(completed.succeeded, "\(completed.stderr)")
        #expect(try boot(network).contains("version=3"))
    }
}
