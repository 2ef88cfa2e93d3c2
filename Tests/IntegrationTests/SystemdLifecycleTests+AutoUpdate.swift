import Foundation
import Testing

/// `machines auto-update` under a real systemd (``SystemdTestHost``), from a real
/// `docker-registry` in the test host's network namespace: v2 pushed to the tag of two marked
/// machines is named by `--dry-run` (no blob request, no file written) and then run by both, an
/// unmarked machine left on v1; a v3 whose application exits at once, and one whose health check
/// never passes, are rolled back: the run exits 1 naming both, and both run v2 again.
extension SystemdLifecycleTests {
    /// A busybox httpd image serving `page`, with `/srv/www/ok` when `healthy`; `exits` makes its
    /// application end at once.
    static func servingImage(tag: String, page: String, healthy: Bool = true, exits: Bool = false) -> String {
        let command = exits ? #"["/bin/busybox", "false"]"# : #"["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/www"]"#
        let ok = healthy ? #", {"path": "srv/www/ok", "content": "ok\n"}"# : ""
        return """
            {"tag": "\(tag)", "images": [{"platform": "linux/amd64", "config": {"Cmd": \(command)},
              "layers": [{"entries": [{"path": "srv", "type": "dir"}, {"path": "srv/www", "type": "dir"},
                {"path": "srv/www/index.html", "content": "\(page)\\n"}\(ok)]}]}]}
            """
    }

    @Test func autoUpdateUpgradesMarkedMachinesAndRollsBackUnhealthyOnes() throws {
        let state = "/var/lib/mbctl-systemd-tests/\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let network = try TestNetwork()
        let registry = try TestRegistry(namespace: network.namespace)
        let host = try SystemdTestHost(network: network, state: state)
        defer { host.stop() }

        /// Pushes the image of `servingImage` tagged `tag` as `127.0.0.1:PORT/REPOSITORY:latest`.
        func push(_ repository: String, tag: String, page: String, healthy: Bool = true, exits: Bool = false) throws {
            let directory = "\(state)/images/\(repository)-\(tag)"
            try FileManager.default.createDirectory(atPath: "\(state)/images", withIntermediateDirectories: true)
            try Self.servingImage(tag: tag, page: page, healthy: healthy, exits: exits).write(toFile: "\(directory).json", atomically: true, encoding: .utf8)
            try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(directory).json", directory])
            try network.inside([TestPaths.mbctl, "oci", "copy", "oci:\(directory):\(tag)", "docker://\(registry.host)/\(repository):latest"])
        }
        func page(_ machine: String) -> String {
            (try? String(contentsOfFile: "\(state)/var/lib/man8machines/\(machine)/srv/www/index.html", encoding: .utf8)) ?? "none"
        }
        func autoUpdate(_ options: [String] = []) throws -> CommandResult {
            try host.mbctl(["machines", "auto-update", "--settle", "3s", "--busybox", MachineLifecycleTests.busybox] + options)
        }
        func health(_ machine: String) throws -> String {
            let status = try host.mbctl(["machines", "status", machine]).stdout
            return status.split(separator: "\n").first { $0.hasPrefix("  health ") }.map {
                String($0.dropFirst("  health ".count)).trimmingCharacters(in: .whitespaces)
            }
                ?? "none"
        }
        func blobRequests() -> Int { registry.log.components(separatedBy: "/blobs/sha256:").count - 1 }

        try push("web", tag: "v1", page: "web v1")
        try push("app", tag: "v1", page: "app v1")
        let pulls: [(String, String, [String])] = [
            ("health", "web", ["--auto-update", "registry", "--health-cmd", "test -e /srv/www/ok", "--health-interval", "1s", "--health-retries", "2"]),
            ("plain", "app", ["--auto-update", "registry"]),
            ("unmarked", "app", []),
        ]
        for (name, repository, options) in pulls {
            let pulled = try host.mbctl(
                ["machines", "pull", "\(registry.host)/\(repository):latest", name, "--prefix", network.prefix, "--busybox", MachineLifecycleTests.busybox]
                    + options)
            #expect(pulled.succeeded, "\(pulled.stderr)")
            #expect(try host.mbctl(["machines", "start", name]).succeeded)
        }
        try waitFor("the checked machine is healthy") { try health("health").hasPrefix("healthy") }
        #expect(try autoUpdate().stdout.contains("health: up to date"))

        // v2: named by --dry-run, with no blob request and no file changed; then run by both.
        try push("web", tag: "v2", page: "web v2")
        try push("app", tag: "v2", page: "app v2")
        let records = ["health", "plain"].map { "\(state)/var/lib/man8machines/.generations/\($0)/current.json" }
        let before = try records.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let blobs = blobRequests()
        let dry = try autoUpdate(["--dry-run"])
        #expect(dry.succeeded, "\(dry.stderr)")
        #expect(
            dry.stdout.contains("health: would upgrade") && dry.stdout.contains("plain: would upgrade") && !dry.stdout.contains("unmarked"), "\(dry.stdout)")
        #expect(blobRequests() == blobs, "the dry run asked for blobs")
        #expect(try records.map { try String(contentsOfFile: $0, encoding: .utf8) } == before)
        #expect(page("health") == "web v1\n" && page("plain") == "app v1\n")

        let second = try autoUpdate()
        #expect(second.succeeded, "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains("health: upgraded") && second.stdout.contains("plain: upgraded"), "\(second.stdout)")
        #expect(page("health") == "web v2\n" && page("plain") == "app v2\n" && page("unmarked") == "app v1\n")
        try waitFor("the journal has a line for it") {
            try host.run(["journalctl", "--no-pager", "-u", "systemd-nspawn@plain.service"]).stdout.contains("auto-update: machine plain upgraded to")
        }

        // v3: one never healthy, one whose application exits at once: both rolled back to v2.
        try push("web", tag: "v3", page: "web v3", healthy: false)
        try push("app", tag: "v3", page: "app v3", exits: true)
        let third = try autoUpdate()
        #expect(third.status == 1, "\(third.stdout)\(third.stderr)")
        #expect(third.stdout.contains("health: rolled back") && third.stdout.contains("plain: rolled back"), "\(third.stdout)")
        #expect(third.stderr.contains("not updated: health, plain"), "\(third.stderr)")
        #expect(page("health") == "web v2\n" && page("plain") == "app v2\n")
        try waitFor("both run v2 again, the checked one healthy") {
            try property("ActiveState", of: "plain", on: host) == "active" && property("ActiveState", of: "health", on: host) == "active"
                && health("health").hasPrefix("healthy")
        }
        #expect(page("unmarked") == "app v1\n")

        // v4, and the run killed (SIGKILL) as soon as it builds the new generation: the machine
        // is on v2 or v4, whole, and the next run brings it to v4.
        try push("app", tag: "v4", page: "app v4")
        let killed = try BackgroundProcess(
            ["nsenter", "-t", "\(host.initProcess ?? 0)", "-a", TestPaths.mbctl, "machines", "auto-update", "plain", "--settle", "3s"],
            logPath: "\(state)/killed-run.log")
        try waitFor("the run prepares the new generation") {
            FileManager.default.fileExists(atPath: "\(state)/var/lib/man8machines/.generations/plain/next") || !killed.process.isRunning
        }
        killed.stop(abruptly: true)
        #expect(["app v2\n", "app v4\n"].contains(page("plain")), "\(page("plain"))")
        let after = try autoUpdate(["plain"])
        #expect(after.succeeded, "\(after.stdout)\(after.stderr)")
        #expect(page("plain") == "app v4\n")
        try waitFor("plain runs v4") { try property("ActiveState", of: "plain", on: host) == "active" }
    }
}
