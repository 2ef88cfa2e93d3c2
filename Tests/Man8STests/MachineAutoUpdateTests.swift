import Foundation
import ConfinedFilesystem
import ImageAccess
import OCILayout
import Testing
import TestSupport
@testable import Man8S

/// `machines auto-update` on a layout under a test directory: which machines it looks at, and in
/// which order; what `--dry-run` finds (the digest a tag names now, from its manifest alone);
/// that a stopped machine is left alone; one run at a time. The upgrades, health checks and
/// rollbacks under systemd are in SystemdLifecycleTests+AutoUpdate.
@Suite(.timeLimit(.minutes(1))) struct MachineAutoUpdateTests {
    let base: MachineBuildTests
    var layout: HostLayout { base.layout }

    init() throws { base = try MachineBuildTests() }

    func pull(_ name: String, tag: String, settings: MachineSettings) async throws {
        let (location, _) = try base.image(tag, MachineBuildTests.app)
        var pull = MachinePull(build: base.build)
        pull.settings = settings
        pull.checksHost = false
        _ = try await pull.pull(location, as: location.description, name: try MachineName(name), prefix: base.prefix)
    }

    final class Reports: @unchecked Sendable {
        private let lock = NSLock()
        private var collected: [String] = []
        func add(_ line: String) { lock.withLock { collected.append(line) } }
        var lines: [String] { lock.withLock { collected } }
    }

    @Test func markedMachinesInDependencyOrderAndWhatADryRunFinds() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        var marked = MachineSettings()
        marked.autoUpdate = true
        var web = marked
        web.requires = ["db"]
        try await pull("db", tag: "db", settings: marked)
        try await pull("web", tag: "web", settings: web)
        try await pull("other", tag: "other", settings: MachineSettings())
        let update = MachineAutoUpdate(build: base.build)
        #expect(try update.machines(named: []).map(\.value) == ["db", "web"])
        #expect(MachineList(layout: layout).entries().filter(\.autoUpdate).map(\.name) == ["db", "web"])
        #expect(try update.machines(named: [try MachineName("other")]).map(\.value) == ["other"])
        #expect(throws: Man8SError.self) { try update.machines(named: [try MachineName("nosuch")]) }

        // web's tag moves; db's does not.
        let (_, moved) = try base.image("web", MachineBuildTests.app + [.file("srv/two", contents: "2\n")])
        let record = "\(layout.records(of: try MachineName("web")))/current.json"
        let before = try String(contentsOfFile: record, encoding: .utf8)
        let reports = Reports()
        let outcomes = try await update.run(try update.machines(named: []), dryRun: true) { name, outcome in reports.add("\(name) \(outcome)") }
        #expect(outcomes.count == 2)
        guard case .upToDate = outcomes[0] else { Issue.record("db: \(outcomes[0])"); return }
        guard case .wouldUpgrade(_, let to) = outcomes[1], to == moved else { Issue.record("web: \(outcomes[1])"); return }
        #expect(try String(contentsOfFile: record, encoding: .utf8) == before)

        // Not a dry run: a machine that does not run is left alone (it could not be checked).
        let real = try await update.run([try MachineName("web")], dryRun: false) { _, _ in }
        guard case .skipped(let reason) = real.first else { Issue.record("\(real)"); return }
        #expect(reason.contains("not running") && !(real.first?.isFailure ?? true))
        #expect(try String(contentsOfFile: record, encoding: .utf8) == before)
    }

    @Test func oneRunAtATime() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        var marked = MachineSettings()
        marked.autoUpdate = true
        try await pull("db", tag: "db", settings: marked)
        let directories = try #require(try MachineDirectories.openExisting(layout))
        let locks = try directories.machines.openDirectory(MachineLock.directoryName)
        let held = try #require(try FileLock.attempt(Array("auto-update.lock".utf8), in: locks))
        defer { held.release() }
        let update = MachineAutoUpdate(build: base.build)
        await #expect(throws: Man8SError.autoUpdateRunning) { _ = try await update.run([try MachineName("db")], dryRun: true) { _, _ in } }
    }
}
