import Foundation
import Testing

/// Machines as services under a real systemd (``SystemdTestHost``): a busybox httpd machine
/// with a published port answers a client in another network namespace, a required machine is
/// started first (at boot too, after a reboot of the test host), limits show on the unit, and
/// `machines configure` moves the port at once with `--restart`.
///
/// In the serialized suite of the other systemd test, which scripts/test runs on its own: each
/// holds a thread of the test pool for minutes, which on 2 cores starves the asynchronous tests
/// that would run meanwhile.
extension SystemdLifecycleTests {
    static let webImage = """
        {"tag": "web", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/www"]},
          "layers": [{"entries": [{"path": "srv", "type": "dir"}, {"path": "srv/www", "type": "dir"},
            {"path": "srv/www/index.html", "content": "hello from web\\n"}]}]}]}
        """
    static let database = """
        {"tag": "db", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/busybox", "sleep", "600"]},
          "layers": [{"entries": [{"path": "srv", "type": "dir"}]}]}]}
        """

    /// What `systemctl show -p PROPERTY` says of machine `name`'s unit.
    func property(_ property: String, of name: String, on host: SystemdTestHost) throws -> String {
        try host.run(["systemctl", "show", "-p", property, "--value", "systemd-nspawn@\(name).service"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func publishedPortsRequirementsAndLimitsWorkThroughSystemd() throws {
        let state = "/var/lib/mbctl-systemd-tests/\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        for (spec, name) in [(Self.webImage, "web"), (Self.database, "db")] {
            try spec.write(toFile: "\(state)/\(name).json", atomically: true, encoding: .utf8)
            try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(state)/\(name).json", "\(state)/\(name)"])
        }
        let network = try TestNetwork()
        let outside = try network.addOutside()
        let host = try SystemdTestHost(network: network, state: state)
        defer { host.stop() }
        func pull(_ tag: String, _ name: String, _ options: [String] = []) throws -> CommandResult {
            try host.mbctl(
                ["machines", "pull", "oci:\(state)/\(tag):\(tag)", name, "--prefix", network.prefix, "--busybox", MachineLifecycleTests.busybox] + options)
        }
        func get(_ port: Int) throws -> CommandResult {
            try runCommand(
                ["ip", "netns", "exec", outside, "curl", "-sf", "--max-time", "3", "http://\(network.hostOutsideAddress4):\(port)/"], check: false,
                deadline: 30)
        }

        #expect(try pull("db", "db").succeeded)
        // A port cannot be forwarded while the host does not route IPv4: refused, saying so.
        let refused = try pull("web", "web", ["--port", "18080:8080"])
        #expect(!refused.succeeded && refused.stderr.contains("IPv4 forwarding is off"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(state)/var/lib/man8machines/web"))
        try network.inside(["sysctl", "-qw", "net.ipv4.ip_forward=1"])

        let web = try pull("web", "web", ["--port", "18080:8080", "--require", "db", "--memory", "512M", "--cpus", "1.5", "--pids-limit", "100"])
        #expect(web.succeeded, "\(web.stderr)")
        #expect(try host.mbctl(["machines", "start", "web"]).succeeded)
        #expect(try property("ActiveState", of: "db", on: host) == "active", "starting web starts db")
        try waitFor("the published port answers from outside") { try get(18080).stdout == "hello from web\n" }
        #expect(try property("MemoryMax", of: "web", on: host) == "536870912")
        #expect(try property("CPUQuotaPerSecUSec", of: "web", on: host) == "1.500000s")
        #expect(try property("TasksMax", of: "web", on: host) == "100")
        let shown = try host.mbctl(["machines", "show", "web"]).stdout
        #expect(shown.contains("service       ports 18080:8080/tcp") && shown.contains("service       requires db"), "\(shown)")

        // Names: inside web, db is db and db.man8s.local at its yggdrasil address (busybox's ping
        // resolves through /etc/hosts and prints the address before sending anything); a machine
        // made while web runs, and a host added with --add-host, are known at once.
        func resolved(_ hostname: String, in machine: String = "web") throws -> String {
            try host.mbctl(["machines", "shell", machine, "--command", "/bin/busybox ping -c 1 -W 1 \(hostname) 2>&1; true"]).stdout
        }
        func address(of machine: String) throws -> String {
            let shown = try host.mbctl(["machines", "show", machine]).stdout.split(separator: "\n")
            let line = shown.first { $0.hasPrefix("address ") } ?? ""
            return line.dropFirst("address ".count).trimmingCharacters(in: .whitespaces)
        }
        let named = try resolved("db.man8s.local")
        #expect(named.contains("PING db.man8s.local (\(try address(of: "db")))"), "\(named)")
        #expect(try resolved("db").contains("PING db (\(try address(of: "db")))"))
        #expect(try pull("db", "late").succeeded)
        let late = try resolved("late")
        #expect(late.contains("PING late (\(try address(of: "late")))"), "\(late)")
        #expect(try host.mbctl(["machines", "configure", "web", "--add-host", "backup:10.1.2.3"]).succeeded)
        #expect(try resolved("backup").contains("PING backup (10.1.2.3)"))
        #expect(try host.mbctl(["machines", "remove", "late"]).succeeded)
        #expect(try resolved("late").contains("bad address"))

        // Moved at once with --restart: the old port no longer answers, the new one does.
        let moved = try host.mbctl(["machines", "configure", "web", "--port", "-18080", "--port", "18081:8080", "--restart"])
        #expect(moved.succeeded && moved.stdout.contains("restarted"), "\(moved.stderr)")
        try waitFor("the moved port answers") { try get(18081).stdout == "hello from web\n" }
        #expect(try !get(18080).succeeded)
        let again = try host.mbctl(["machines", "configure", "web", "--port", "18081:8080"])
        #expect(again.stdout.contains("settings unchanged"), "\(again.stdout)")

        // Health: a check added to the running machine starts its watcher at once; starting →
        // healthy; unhealthy after --health-retries failed checks an --health-interval apart,
        // written to the machine's journal; restarted with --restart-on-unhealthy (its /tmp is
        // new then, so it is healthy again).
        func health() throws -> String {
            let status = try host.mbctl(["machines", "status", "web"]).stdout
            return status.split(separator: "\n").first { $0.hasPrefix("  health ") }.map {
                String($0.dropFirst("  health ".count)).trimmingCharacters(in: .whitespaces)
            } ?? "none"
        }
        let checked = try host.mbctl(
            [
                "machines", "configure", "web", "--health-cmd", "test ! -e /tmp/sick", "--health-interval", "2s", "--health-retries", "2", "--health-timeout",
                "2s",
            ])
        #expect(checked.succeeded, "\(checked.stderr)")
        // The first check comes an interval after the watcher starts: until then, starting.
        #expect(try health().hasPrefix("starting"))
        try waitFor("the check finds web healthy") { try health().hasPrefix("healthy") }
        #expect(try host.mbctl(["machines", "health", "web"]).succeeded)
        #expect(try host.mbctl(["machines", "list"]).stdout.contains("\thealthy\t"))
        #expect(try host.mbctl(["machines", "shell", "web", "--command", "touch /tmp/sick"]).succeeded)
        let sick = ContinuousClock.now
        try waitFor("web turns unhealthy") { try health().hasPrefix("unhealthy") }
        let took = sick.duration(to: .now)
        // Two failures, one interval apart: about one interval at least, not much more than two.
        #expect(took >= .milliseconds(1500) && took < .seconds(10), "unhealthy after \(took)")
        let failing = try host.mbctl(["machines", "health", "web"])
        #expect(failing.status == 1 && failing.stderr.contains("machine web is unhealthy"), "\(failing.stderr)")
        try waitFor("the journal says so") {
            try host.run(["journalctl", "--no-pager", "-u", "systemd-nspawn@web.service"]).stdout.contains(
                "machine web is unhealthy: 2 health checks failed in a row")
        }
        let invocation = try property("InvocationID", of: "web", on: host)
        #expect(try host.mbctl(["machines", "configure", "web", "--restart-on-unhealthy"]).succeeded)
        try waitFor("web is restarted and healthy again") {
            try property("InvocationID", of: "web", on: host) != invocation && health().hasPrefix("healthy")
        }

        // Enabled, web comes up with the host after a reboot, db first.
        #expect(try host.mbctl(["machines", "enable", "web"]).succeeded)
        host.powerOff()
        try host.boot()
        try network.inside(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        try waitFor("both machines come up with the host") {
            try property("ActiveState", of: "web", on: host) == "active" && property("ActiveState", of: "db", on: host) == "active"
        }
        let dbUp = Int(try property("ActiveEnterTimestampMonotonic", of: "db", on: host)) ?? 0
        let webUp = Int(try property("ActiveEnterTimestampMonotonic", of: "web", on: host)) ?? 0
        #expect(dbUp > 0 && dbUp <= webUp, "db came up at \(dbUp), web at \(webUp)")
        try waitFor("the port answers after the reboot") { try get(18081).stdout == "hello from web\n" }
        try waitFor("its watcher came up with it") { try health().hasPrefix("healthy") }
    }
}
