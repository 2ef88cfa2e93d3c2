import Foundation
import Testing

/// `machines apply` under a real systemd (``SystemdTestHost``): a two-machine file makes both
/// and starts them in dependency order, enabled; applied again it writes no file and restarts
/// nothing; a changed file upgrades exactly the machine whose image changed.
extension SystemdLifecycleTests {
    @Test func machinesApplyStartsAFileInOrderAndTouchesNothingTheSecondTime() throws {
        let state = "/var/lib/mbctl-systemd-tests/\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let newerWeb = Self.webImage.replacingOccurrences(of: "hello from web", with: "hello from web, version 2")
        for (spec, directory) in [(Self.webImage, "web"), (Self.database, "db"), (newerWeb, "web2")] {
            try spec.write(toFile: "\(state)/\(directory).json", atomically: true, encoding: .utf8)
            try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(state)/\(directory).json", "\(state)/\(directory)"])
        }
        let network = try TestNetwork()
        let host = try SystemdTestHost(network: network, state: state)
        defer { host.stop() }
        let file = "\(state)/machines.toml"
        func apply(web image: String) throws -> CommandResult {
            try """
            [machines.web]
            image = "\(image)"
            requires = ["db"]
            memory = "256M"

            [machines.db]
            image = "oci:\(state)/db:db"
            """.write(toFile: file, atomically: true, encoding: .utf8)
            return try host.mbctl(["machines", "apply", file, "--prefix", network.prefix, "--busybox", MachineLifecycleTests.busybox, "--quiet"])
        }
        // What mbctl wrote for both machines: inode and change time of each file.
        func stamps() throws -> [String: String] {
            var found: [String: String] = [:]
            for name in ["web", "db"] {
                for path in [
                    "/etc/systemd/nspawn/\(name).nspawn", "/var/lib/man8machine_configs/\(name)/man8env.env",
                    "/var/lib/man8machines/.generations/\(name)/settings.json", "/var/lib/man8machines/.generations/\(name)/current.json",
                    "/var/lib/man8machines/.generations/\(name)/hosts", "/etc/systemd/system/systemd-nspawn@\(name).service.d/50-mbctl.conf",
                ] {
                    var info = stat()
                    guard stat(state + path, &info) == 0 else { continue }
                    found[path] = "\(info.st_ino) \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)"
                }
            }
            return found
        }

        let first = try apply(web: "oci:\(state)/web:web")
        #expect(first.succeeded, "\(first.stderr)")
        let lines = first.stdout.split(separator: "\n")
        let dbMade = lines.firstIndex { $0.hasPrefix("db: made from") }, webMade = lines.firstIndex { $0.hasPrefix("web: made from") }
        #expect(dbMade != nil && webMade != nil && dbMade! < webMade!, "\(first.stdout)")
        try waitFor("both machines run") {
            try property("ActiveState", of: "web", on: host) == "active" && property("ActiveState", of: "db", on: host) == "active"
        }
        let dbUp = Int(try property("ActiveEnterTimestampMonotonic", of: "db", on: host)) ?? 0
        let webUp = Int(try property("ActiveEnterTimestampMonotonic", of: "web", on: host)) ?? 0
        #expect(dbUp > 0 && dbUp <= webUp, "db came up at \(dbUp), web at \(webUp)")
        #expect(try property("UnitFileState", of: "web", on: host) == "enabled" && property("UnitFileState", of: "db", on: host) == "enabled")
        #expect(try property("MemoryMax", of: "web", on: host) == "268435456")

        let written = try stamps()
        // db has no settings, so no settings.json.
        #expect(written.count == 11, "\(written.keys.sorted())")
        let invocations = try ["web", "db"].map { try property("InvocationID", of: $0, on: host) }
        let second = try apply(web: "oci:\(state)/web:web")
        #expect(second.succeeded && second.stdout == "db: up to date\nweb: up to date\n", "\(second.stdout)\(second.stderr)")
        #expect(try stamps() == written)
        #expect(try ["web", "db"].map { try property("InvocationID", of: $0, on: host) } == invocations)

        let changed = try apply(web: "oci:\(state)/web2:web")
        #expect(changed.succeeded, "\(changed.stderr)")
        #expect(changed.stdout.contains("db: up to date\n") && changed.stdout.contains("web: upgraded to oci:\(state)/web2:web"), "\(changed.stdout)")
        #expect(try property("InvocationID", of: "db", on: host) == invocations[1])
        try waitFor("web runs its new generation") {
            try property("ActiveState", of: "web", on: host) == "active" && property("InvocationID", of: "web", on: host) != invocations[0]
        }
        let page = try String(contentsOfFile: "\(state)/var/lib/man8machines/web/srv/www/index.html", encoding: .utf8)
        #expect(page == "hello from web, version 2\n")

        // Back, through the unit: the restart's ExecStartPre waits for no lock the rollback holds.
        let upgraded = try property("InvocationID", of: "web", on: host)
        let back = try host.mbctl(["machines", "rollback", "web", "--restart"])
        #expect(back.succeeded, "\(back.stderr)")
        try waitFor("web runs its first generation again") {
            try property("ActiveState", of: "web", on: host) == "active" && property("InvocationID", of: "web", on: host) != upgraded
        }
        #expect(try String(contentsOfFile: "\(state)/var/lib/man8machines/web/srv/www/index.html", encoding: .utf8) == "hello from web\n")
    }
}
