import ConfinedFilesystem
import Foundation
import Testing
@testable import Man8S

/// A transition from one generation of a machine to another, stopped at every moment a
/// `kill -9` could stop it, is finished by the next mbctl: the machine is the new generation,
/// whole, and the old one is kept whole.
@Suite struct MachineTransitionTests {
    let root = NSTemporaryDirectory() + "mbctl-transition-\(UUID().uuidString)"
    var layout: HostLayout { HostLayout().rooted(at: root) }
    let name: MachineName

    init() throws {
        name = try MachineName("web")
    }

    func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// What mbctl records of generation `number` of the machine, made from `digest`.
    func record(_ number: Int, digest: String, written: String) throws -> GenerationRecord {
        var machine = MachineDefinition(
            name: name, address: try YggdrasilAddress(parsing: "300:2e98:a4b0:1789::5"), image: "app:1", createdAt: Date(),
            runtime: .init(), volumes: [], layout: layout)
        machine.imageDigest = digest
        return GenerationRecord(machine, number: number, written: written)
    }

    /// Generation 1 in place, generation 2 prepared in next/.
    func prepare() throws -> MachineGenerations {
        try write("v1", to: "\(layout.rootfs(of: name))/version")
        try write("nspawn v1", to: layout.nspawnFile(of: name))
        try write("env v1", to: layout.environmentFile(of: name))
        let directories = try MachineDirectories.open(layout)
        let generations = try #require(try MachineGenerations.open(name, in: directories, create: true))
        let first = try record(1, digest: "sha256:1", written: "env v1")
        try generations.handle.writeFile(MachineGenerations.currentRecord, contents: try first.encoded(), mode: 0o600)
        let next = "\(generations.path)/next"
        try write("v2", to: "\(next)/rootfs/version")
        try write("nspawn v2", to: "\(next)/web.nspawn")
        try write("env v2", to: "\(next)/man8env.env")
        let second = try record(2, digest: "sha256:2", written: "env v2")
        try write(String(decoding: try second.encoded(), as: UTF8.self), to: "\(next)/generation.json")
        return generations
    }

    func expectSecondGenerationWhole(_ generations: MachineGenerations) {
        #expect(read("\(layout.rootfs(of: name))/version") == "v2")
        // The generation's nspawn file, serving the machine's settings (its names at least).
        #expect(read(layout.nspawnFile(of: name))?.hasPrefix("nspawn v2\n") == true)
        #expect(read(layout.environmentFile(of: name)) == "env v2")
        #expect((try? generations.current())??.number == 2)
        #expect(read("\(generations.path)/1/rootfs/version") == "v1")
        #expect(read("\(generations.path)/1/web.nspawn")?.hasPrefix("nspawn v1") == true)
        #expect(read("\(generations.path)/1/man8env.env") == "env v1")
        #expect(generations.record(of: 1)?.digest == "sha256:1")
        #expect(!FileManager.default.fileExists(atPath: "\(generations.path)/next"))
        #expect(!FileManager.default.fileExists(atPath: "\(generations.path)/journal.json"))
    }

    @Test(arguments: MachineTransition.Moment.allCases)
    func aTransitionCutShortIsFinishedByTheNextMbctl(moment: MachineTransition.Moment) throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let generations = try prepare()
        #expect(throws: MachineTransition.Stopped.self) {
            try MachineTransition(incoming: "next", outgoing: 1, keep: 1).begin(in: generations, stoppingAt: moment)
        }
        // A new process: the journal is all it knows.
        let reopened = try #require(try MachineGenerations.open(name, in: try MachineDirectories.open(layout), create: false))
        #expect(try MachineTransition.recover(reopened))
        expectSecondGenerationWhole(reopened)
        #expect(try MachineTransition.recover(reopened) == false)
    }

    /// The boot-time repair runs with the configuration the machine was made with: with it, it
    /// finishes the swap; with another one (where no such machine is) it fails, so that the unit
    /// does not boot a rootfs that is not there, instead of succeeding having done nothing.
    @Test func recoveryFindsTheMachineOnlyWhereItsConfigurationSays() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let generations = try prepare()
        #expect(throws: MachineTransition.Stopped.self) {
            try MachineTransition(incoming: "next", outgoing: 1, keep: 1).begin(in: generations, stoppingAt: .keptCurrentRootfs)
        }
        let elsewhere = HostLayout().rooted(at: root + "/elsewhere")
        #expect(throws: Man8SError.noSuchMachine("web")) { try MachineRecovery(layout: elsewhere).recover(name) }
        #expect(!FileManager.default.fileExists(atPath: layout.rootfs(of: name)))
        #expect(try MachineRecovery(layout: layout).recover(name))
        expectSecondGenerationWhole(generations)
    }

    @Test func theUnitDropInRunsRecoveryWithTheMachinesConfigurationAndFailsTheBootWhenItFails() throws {
        let plain = try MachineUnitDropIn.contents(
            name, recovery: RecoveryCommand(executable: "/usr/bin/mbctl", configurationFile: nil), settings: MachineSettings())
        #expect(plain.contains("\nExecStartPre=/usr/bin/mbctl machines recover web\n"))
        let configured = try MachineUnitDropIn.contents(
            name, recovery: RecoveryCommand(executable: "/usr/local/bin/mbctl", configurationFile: "/srv/my hosts/%h $HOME \"x\".toml"),
            settings: MachineSettings())
        #expect(configured.contains(#"ExecStartPre=/usr/local/bin/mbctl machines recover web --config "/srv/my hosts/%%h $$HOME \"x\".toml""#), "\(configured)")
        #expect(!configured.contains("ExecStartPre=-"))
        #expect(throws: Man8SError.self) {
            try MachineUnitDropIn.contents(
                name, recovery: RecoveryCommand(executable: "/usr/bin/mbctl", configurationFile: "/etc/a\nExecStartPre=/bin/evil"), settings: MachineSettings())
        }
    }

    @Test func beforeTheJournalNothingMoved() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let generations = try prepare()
        // An upgrade killed while it prepared next/: the machine is generation 1, untouched.
        try generations.removeAbandonedPreparation()
        #expect(read("\(layout.rootfs(of: name))/version") == "v1")
        #expect(read(layout.environmentFile(of: name)) == "env v1")
        #expect(!FileManager.default.fileExists(atPath: "\(generations.path)/next"))
    }

    @Test func rollingBackAndForthKeepsBothGenerationsWhole() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let generations = try prepare()
        try MachineTransition(incoming: "next", outgoing: 1, keep: 1).begin(in: generations)
        try MachineTransition(incoming: "1", outgoing: 2, keep: 1).begin(in: generations)
        #expect(read("\(layout.rootfs(of: name))/version") == "v1")
        #expect(read(layout.environmentFile(of: name)) == "env v1")
        #expect(try generations.previous() == [2])
        try MachineTransition(incoming: "2", outgoing: 1, keep: 1).begin(in: generations)
        expectSecondGenerationWhole(generations)
    }

    @Test func theUsersLinesSurviveAnUpgrade() {
        let written = "MAN8S_CONTAINER_NAME=web\nMAN8S_OCI_IMAGE_DIGEST=sha256:1\nGREETING=hello\n"
        let current = written + "USER_SETTING=kept\nGREETING=changed by the user\n"
        let fresh = "MAN8S_CONTAINER_NAME=web\nMAN8S_OCI_IMAGE_DIGEST=sha256:2\nGREETING=hello\nNEW=1\n"
        let merged = EnvironmentFile.merge(current: current, previouslyWritten: written, newlyWritten: fresh)
        #expect(merged.hasPrefix(fresh))
        #expect(merged.hasSuffix("USER_SETTING=kept\nGREETING=changed by the user\n"))
        #expect(!merged.contains("sha256:1"))
        // Upgraded again: the user's lines once, not twice.
        let again = EnvironmentFile.merge(current: merged, previouslyWritten: fresh, newlyWritten: fresh)
        #expect(again == merged)
    }
}
