import Foundation
import ImageAccess
import OCILayout
import Testing
import TestSupport
@testable import Man8S

/// Service settings (published ports, required machines, limits): how they are read from the
/// command line, refused when they cannot hold, kept in mbctl's record, written into the files
/// systemd reads, and kept through upgrades and rollbacks. On a layout under a test directory;
/// the systemd test host shows them working (SystemdLifecycleTests+Services).
@Suite(.timeLimit(.minutes(1))) struct MachineSettingsTests {
    let base: MachineBuildTests
    var layout: HostLayout { base.layout }

    init() throws { base = try MachineBuildTests() }

    func pull(_ name: String, settings: MachineSettings = MachineSettings()) async throws {
        let (location, _) = try base.image("1", MachineBuildTests.app)
        var pull = MachinePull(build: base.build)
        pull.settings = settings
        pull.checksHost = false
        pull.recovery = RecoveryCommand(executable: "/usr/bin/mbctl", configurationFile: nil)
        _ = try await pull.pull(location, as: "oci:images:1", name: try MachineName(name), prefix: base.prefix)
    }

    func configure(_ name: String, _ change: SettingsChange) throws -> MachineConfigure.Outcome {
        var configure = MachineConfigure(layout: layout)
        configure.checksHost = false
        configure.recovery = RecoveryCommand(executable: "/usr/bin/mbctl", configurationFile: nil)
        return try configure.configure(try MachineName(name), change, restart: false)
    }

    func file(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
    func dropIn(_ name: String) throws -> String { try file("\(layout.systemdUnits)/systemd-nspawn@\(name).service.d/50-mbctl.conf") }

    @Test func settingsAreReadAsDockerWritesThem() throws {
        #expect(try PublishedPort(parsing: "18080:8080") == PublishedPort(portProtocol: .tcp, hostPort: 18080, machinePort: 8080))
        #expect(try PublishedPort(parsing: "53:5353/udp").nspawnLine == "Port=udp:53:5353")
        for bad in ["0:80", "65536:80", "80", "80:80:80", "a:80", "80:80/sctp", "-1:80", "80:", "+80:80", "080000:1"] {
            #expect(throws: Man8SError.self, "\(bad)") { try PublishedPort(parsing: bad) }
        }
        #expect(try PublishedPort.parseRemoval("-8080") == (8080, nil))
        #expect(try ResourceLimits.parseMemory("512M") == 512 << 20)
        #expect(try ResourceLimits.parseMemory("2g") == 2 << 30)
        #expect(try ResourceLimits.parseMemory("1048576000") == 1_048_576_000)
        #expect(try ResourceLimits.parseMemory("64MB") == 64 << 20)
        for bad in ["", "1K", "12X", "-5M", "1.5G", "99999999999999999999T", "M"] {
            #expect(throws: Man8SError.self, "\(bad)") { try ResourceLimits.parseMemory(bad) }
        }
        #expect(try ResourceLimits.parseCPUs("1.5") == 150)
        #expect(try ResourceLimits.parseCPUs("0.05") == 5)
        #expect(try ResourceLimits.parseCPUs("2") == 200)
        #expect(try ResourceLimits.parseCPUs(".5") == 50)
        for bad in ["0", "0.001", "1.2.3", "x", "", ".", "-1", "1e3"] {
            #expect(throws: Man8SError.self, "\(bad)") { try ResourceLimits.parseCPUs(bad) }
        }
        #expect(ResourceLimits.cpusText(150) == "1.5" && ResourceLimits.cpusText(5) == "0.05" && ResourceLimits.cpusText(200) == "2")
        #expect(ResourceLimits.memoryText(512 << 20) == "512M")
        #expect(try ResourceLimits.parsePids("100") == 100)
        #expect(throws: Man8SError.self) { try ResourceLimits.parsePids("0") }
        #expect(throws: Man8SError.self) { try ResourceLimits.parsePids("99999999") }
    }

    @Test func settingsGoIntoTheirSectionsReplacingThoseThere() throws {
        let layout = HostLayout(), name = try MachineName("web")
        let hosts = "BindReadOnly=/var/lib/man8machines/.generations/web/hosts:/etc/hosts"
        let resolver = "BindReadOnly=/var/lib/man8machines/.generations/web/resolv.conf:/etc/resolv.conf"
        var settings = MachineSettings(ports: [PublishedPort(portProtocol: .tcp, hostPort: 80, machinePort: 8080)])
        let file =
            "[Exec]\nBoot=no\nResolvConf=copy-stub\nTimezone=copy\n\n[Network]\nVirtualEthernet=yes\nBridge=srvgrp0\nPort=tcp:1:1\n\n[Files]\nBind=/a:/b\n"
        let served = try NspawnFile.serving(settings, of: name, layout: layout, in: file)
        #expect(
            served
                == "[Exec]\nBoot=no\nResolvConf=copy-stub\nTimezone=copy\n\n[Network]\nVirtualEthernet=yes\nBridge=srvgrp0\nPort=tcp:80:8080\n\n[Files]\nBind=/a:/b\n\(hosts)\n"
        )
        #expect(try NspawnFile.serving(settings, of: name, layout: layout, in: served) == served)
        settings.ports = []
        settings.dns = .address("10.0.0.53")
        let resolving = try NspawnFile.serving(settings, of: name, layout: layout, in: served)
        #expect(
            resolving
                == "[Exec]\nBoot=no\nResolvConf=off\nTimezone=copy\n\n[Network]\nVirtualEthernet=yes\nBridge=srvgrp0\n\n[Files]\nBind=/a:/b\n\(hosts)\n\(resolver)\n"
        )
        settings.dns = .host
        #expect(
            try NspawnFile.serving(settings, of: name, layout: layout, in: resolving)
                == "[Exec]\nBoot=no\nResolvConf=bind-host\nTimezone=copy\n\n[Network]\nVirtualEthernet=yes\nBridge=srvgrp0\n\n[Files]\nBind=/a:/b\n\(hosts)\n")
        settings = MachineSettings(ports: [PublishedPort(portProtocol: .udp, hostPort: 53, machinePort: 53)])
        #expect(
            try NspawnFile.serving(settings, of: name, layout: layout, in: "[Exec]\nBoot=no\n")
                == "[Exec]\nBoot=no\nResolvConf=copy-stub\n\n[Network]\nPort=udp:53:53\n\n[Files]\n\(hosts)\n")
        // A Port= line of another section is not the machine's port: left alone.
        #expect(try NspawnFile.serving(MachineSettings(), of: name, layout: layout, in: "[Files]\nPort=x\n").hasPrefix("[Files]\nPort=x\n"))
    }

    @Test func aPullWritesItsSettingsAndRefusesOnesThatCannotHold() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try await pull("db")
        var change = SettingsChange()
        change.addPorts = [try PublishedPort(parsing: "18080:8080")]
        change.addRequires = [try MachineName("db")]
        change.memory = .set(512 << 20)
        change.cpuPercent = .set(150)
        change.pids = .set(100)
        try await pull("web", settings: try change.applied(to: MachineSettings()))
        #expect(try file(layout.nspawnFile(of: try MachineName("web"))).contains("Bridge=srvgrp0\nPort=tcp:18080:8080\n"))
        let unit = try dropIn("web")
        for line in [
            "Requires=systemd-nspawn@db.service", "After=systemd-nspawn@db.service", "ExecStartPre=", "MemoryMax=536870912", "CPUQuota=150%", "TasksMax=100",
        ] {
            #expect(unit.contains(line), "\(line) missing from \(unit)")
        }
        let record = "\(layout.machines)/.generations/web/settings.json"
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: record)[.posixPermissions] as? Int)
        #expect(mode == 0o600)

        // A machine that requires one there is not, or publishes a host port another has: refused
        // before anything is made.
        var missing = SettingsChange()
        missing.addRequires = [try MachineName("nosuch")]
        let noSuch = try missing.applied(to: MachineSettings())
        await #expect(throws: Man8SError.self) { try await pull("app", settings: noSuch) }
        var taken = SettingsChange()
        taken.addPorts = [try PublishedPort(parsing: "18080:80")]
        let takenPort = try taken.applied(to: MachineSettings())
        do {
            try await pull("app", settings: takenPort)
            Issue.record("a taken port was published twice")
        } catch {
            #expect("\(error)".contains("machine web publishes host port 18080/tcp already"))
        }
        #expect(!FileManager.default.fileExists(atPath: layout.rootfs(of: try MachineName("app"))))
        #expect(!FileManager.default.fileExists(atPath: "\(layout.machines)/.generations/app"))
    }

    @Test func configureChangesOnlyWhatChangesAndRefusesACircle() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try await pull("a")
        try await pull("b")
        var requireB = SettingsChange()
        requireB.addRequires = [try MachineName("b")]
        requireB.addPorts = [try PublishedPort(parsing: "8080:80")]
        #expect(try configure("a", requireB).changed)
        let nspawn = layout.nspawnFile(of: try MachineName("a"))
        #expect(try file(nspawn).contains("Port=tcp:8080:80"))
        let inode = try #require(try FileManager.default.attributesOfItem(atPath: nspawn)[.systemFileNumber] as? UInt64)
        // The same again: nothing written.
        #expect(try !configure("a", requireB).changed)
        #expect(try FileManager.default.attributesOfItem(atPath: nspawn)[.systemFileNumber] as? UInt64 == inode)

        var requireA = SettingsChange()
        requireA.addRequires = [try MachineName("a")]
        #expect(refusal { _ = try configure("b", requireA) }.contains("in a circle: b → a → b"))
        var itself = SettingsChange()
        itself.addRequires = [try MachineName("b")]
        #expect(refusal { _ = try configure("b", itself) }.contains("a machine cannot require itself"))

        // b cannot be removed while a requires it.
        #expect(refusal { _ = try MachineRemoval(layout: layout).remove(try MachineName("b")) }.contains("machine b is required by a"))

        var undo = SettingsChange()
        undo.removePorts = [(8080, nil)]
        undo.removeRequires = [try MachineName("b")]
        undo.memory = .clear
        let cleared = try configure("a", undo)
        #expect(cleared.changed && cleared.settings.isEmpty)
        #expect(try !file(nspawn).contains("Port="))
        #expect(try !dropIn("a").contains("Requires="))
    }

    /// The record is mbctl's, yet its values go into unit files: one that says what configure
    /// never writes is damaged, not obeyed.
    @Test func aRecordThatSaysWhatConfigureNeverWritesIsDamaged() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try await pull("web")
        let record = "\(layout.machines)/.generations/web/settings.json"
        let directories = try #require(try MachineDirectories.openExisting(layout))
        for text in [
            #"{"requires": ["db\nExecStartPre=/bin/evil"]}"#, #"{"ports": [{"protocol": "tcp", "hostPort": 0, "machinePort": 80}]}"#,
            #"{"limits": {"pids": -1}}"#,
        ] {
            try text.write(toFile: record, atomically: false, encoding: .utf8)
            #expect(throws: Man8SError.self, "\(text)") { try MachineSettings.read(of: try MachineName("web"), in: directories) }
        }
    }

    @Test func upgradesAndRollbacksKeepTheSettingsGivenLast() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try await pull("web")
        var publish = SettingsChange()
        publish.addPorts = [try PublishedPort(parsing: "18080:8080")]
        _ = try configure("web", publish)
        let name = try MachineName("web")
        let (second, _) = try base.image("2", MachineBuildTests.app + [.file("srv/two", contents: "2\n")])
        _ = try await MachineUpgrade(build: base.build).upgrade(name, from: second.description)
        #expect(try file(layout.nspawnFile(of: name)).contains("Port=tcp:18080:8080"))
        // Changed after the upgrade: the rollback to generation 1 publishes the new port.
        var move = SettingsChange()
        move.removeAllPorts = true
        move.addPorts = [try PublishedPort(parsing: "18081:8080")]
        _ = try configure("web", move)
        _ = try MachineRollback(layout: layout).rollback(name)
        let rolledBack = try file(layout.nspawnFile(of: name))
        #expect(rolledBack.contains("Port=tcp:18081:8080") && !rolledBack.contains("18080"), "\(rolledBack)")
    }
}
