import Foundation
import ImageAccess
import OCILayout
import Testing
import TestSupport
@testable import Man8S

/// `machines apply`: the machines file read (and refused, naming the line), the plan in
/// dependency order, and applying it on a layout under a test directory: a first apply makes the
/// machines, a second changes no file, a changed file changes exactly what changed. The systemd
/// test host shows the machines started in order (SystemdLifecycleTests+Services).
@Suite(.timeLimit(.minutes(1))) struct MachinesApplyTests {
    let base: MachineBuildTests
    var layout: HostLayout { base.layout }

    init() throws { base = try MachineBuildTests() }

    var applier: MachinesApply {
        var apply = MachinesApply(build: base.build)
        apply.checksHost = false
        return apply
    }

    func refusal(_ text: String) -> String {
        do {
            _ = try MachinesFile(text: text, path: "m.toml")
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    /// Applies `text`; what was reported, machine by machine.
    func apply(_ text: String) async throws -> [String] {
        let steps = try applier.plan(try MachinesFile(text: text, path: "m.toml"), prune: false)
        let reports = Reports()
        let prefix = base.prefix
        try await applier.apply(steps, prefix: { prefix }) { name, what in reports.add("\(name): \(what)") }
        return reports.lines
    }

    final class Reports: @unchecked Sendable {
        private let lock = NSLock()
        private var collected: [String] = []
        func add(_ line: String) { lock.withLock { collected.append(line) } }
        var lines: [String] { lock.withLock { collected } }
    }

    @Test func aFileIsReadWholeAndRefusedNamingItsLine() throws {
        let file = try MachinesFile(
            text: """
                # the site
                [machines.web]
                image = "oci:/srv/images:web"
                volumes = ["/srv/data=data"]
                env = { GREETING = "hello world", MODE = "a=b" }
                ports = ["8080:80", "53:53/udp"]
                requires = ["db"]
                dns = "db"
                hosts = ["backup:fd00::5"]
                memory = "512M"
                cpus = 1.5
                pids_limit = 100
                health_cmd = "true"
                health_interval = "10s"
                health_retries = 2
                restart_on_unhealthy = true
                auto_update = "registry"
                enabled = false

                [machines.db]
                image = "oci:/srv/images:db"
                """, path: "m.toml")
        #expect(file.machines.map(\.name.value) == ["web", "db"])
        let web = try #require(file.machines.first)
        #expect(web.line == 2 && !web.enabled && web.volumes["/srv/data"] == .data)
        #expect(web.settings.environment == ["GREETING": "hello world", "MODE": "a=b"])
        #expect(try web.settings.ports.count == 2 && web.settings.requires == ["db"] && web.settings.dns == .machine(try MachineName("db")))
        #expect(web.settings.limits.memory == 512 << 20 && web.settings.limits.cpuPercent == 150 && web.settings.limits.pids == 100)
        #expect(web.settings.health?.intervalMilliseconds == 10_000 && web.settings.health?.retries == 2 && web.settings.health?.restartOnUnhealthy == true)
        #expect(web.settings.autoUpdate && web.settings.hosts.first?.address == "fd00::5")

        #expect(refusal("[machines.web]\nimage = \"x\"\n\nportz = [\"1:1\"]\n").hasPrefix("m.toml, line 4: unknown key portz in [machines.web]"))
        #expect(refusal("[machines.web]\nimage = \"x\"\nports = \"8080:80\"\n").hasPrefix("m.toml, line 3: ports takes"))
        #expect(refusal("[machines.web]\nimage = \"x\"\nports = [\"80:99999\"]\n").hasPrefix("m.toml, line 3: ports: invalid setting"))
        #expect(refusal("[machines.web]\nports = []\n").hasPrefix("m.toml, line 1: [machines.web] has no image"))
        #expect(refusal("[machines.web]\nimage = \"x\"\nenv = { \"A\\nB\" = \"1\" }\n").hasPrefix("m.toml, line 3: env: invalid setting"))
        #expect(refusal("[machines.web]\nimage = \"x\"\nenv = { A = \"1\\n2\" }\n").hasPrefix("m.toml, line 3: env: invalid setting"))
        #expect(refusal("[machines.web]\nimage = \"x\"\nhealth_cmd = \"true\\nreboot\"\n").contains("control character"))
        #expect(refusal("[machines.\"../etc\"]\nimage = \"x\"\n").hasPrefix("m.toml, line 1: invalid machine name"))
        #expect(refusal("[machine.web]\nimage = \"x\"\n").hasPrefix("m.toml, line 1: unknown key machine"))
        #expect(refusal("[machines.web]\nimage = \"x\"\nimage = \"y\"\n").hasPrefix("m.toml, line 3"))
        #expect(refusal("[machines.web\n").hasPrefix("m.toml, line 1"))
    }

    @Test func machinesComeAfterThoseTheyRequireAndACircleIsRefused() throws {
        func names(_ text: String) throws -> [String] {
            try MachinesApply.ordered(try MachinesFile(text: text, path: "m.toml").machines, onHost: []).map(\.name.value)
        }
        #expect(
            try names("[machines.web]\nimage = \"x\"\nrequires = [\"db\"]\ndns = \"dns\"\n[machines.db]\nimage = \"x\"\n[machines.dns]\nimage = \"x\"\n")
                == ["db", "dns", "web"])
        #expect(throws: Man8SError.self) { try names("[machines.a]\nimage = \"x\"\nrequires = [\"b\"]\n[machines.b]\nimage = \"x\"\nrequires = [\"a\"]\n") }
        #expect(throws: Man8SError.self) { try names("[machines.a]\nimage = \"x\"\nrequires = [\"nosuch\"]\n") }
    }

    @Test func aSecondApplyChangesNoFileAndAChangedFileChangesWhatChanged() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        let (first, _) = try base.image("1", MachineBuildTests.app)
        let (second, _) = try base.image("2", MachineBuildTests.app + [.file("srv/two", contents: "2\n")])
        let file = """
            [machines.web]
            image = "\(first)"
            requires = ["db"]
            ports = ["18080:8080"]
            env = { GREETING = "hello" }
            enabled = false

            [machines.db]
            image = "\(first)"
            enabled = false
            """
        let made = try await apply(file)
        #expect(made.count == 2 && made[0].hasPrefix("db: made from") && made[1].hasPrefix("web: made from"), "\(made)")
        let web = try MachineName("web")
        let environment = try String(contentsOfFile: layout.environmentFile(of: web), encoding: .utf8)
        #expect(environment.hasSuffix("\(EnvironmentFile.userLinesHeader)\nGREETING=hello\n"), "\(environment)")

        // Every file mbctl wrote for the machines, with its inode and change time.
        func files() throws -> [String: [Int]] {
            var found: [String: [Int]] = [:]
            for name in ["web", "db"] {
                let machine = try MachineName(name)
                for path in [
                    layout.nspawnFile(of: machine), layout.environmentFile(of: machine), layout.hostsFile(of: machine),
                    "\(layout.records(of: machine))/settings.json", "\(layout.records(of: machine))/current.json",
                    "\(layout.systemdUnits)/systemd-nspawn@\(name).service.d/50-mbctl.conf",
                ] where FileManager.default.fileExists(atPath: path) {
                    var info = stat()
                    guard stat(path, &info) == 0 else { continue }
                    found[path] = [Int(info.st_ino), Int(info.st_ctim.tv_sec), Int(info.st_ctim.tv_nsec)]
                }
            }
            return found
        }
        let before = try files()
        #expect(before.count >= 8)
        #expect(try await apply(file) == ["db: up to date", "web: up to date"])
        #expect(try files() == before)

        // web's image and settings change, db's nothing.
        let changed = file.replacingOccurrences(of: "image = \"\(first)\"\nrequires", with: "image = \"\(second)\"\nrequires")
            .replacingOccurrences(of: "GREETING = \"hello\"", with: "GREETING = \"bonjour\"")
        let reports = try await apply(changed)
        #expect(reports.first == "db: up to date")
        #expect(reports.contains { $0.hasPrefix("web: upgraded to \(second)") } && reports.contains { $0.hasPrefix("web: settings:") }, "\(reports)")
        #expect(FileManager.default.fileExists(atPath: "\(layout.rootfs(of: web))/srv/two"))
        let updated = try String(contentsOfFile: layout.environmentFile(of: web), encoding: .utf8)
        #expect(updated.contains("GREETING=bonjour\n") && !updated.contains("GREETING=hello"), "\(updated)")
        let after = try files()
        for (path, stamp) in before where path.contains("/db") || path.hasSuffix("db.nspawn") {
            #expect(after[path] == stamp, "\(path) changed")
        }
    }
}
