import ConfinedFilesystem
import Foundation
import ImageAccess
import SystemErrors
import Testing
@testable import Man8S

/// Files mbctl finds where its own should be: named, refused or left alone, never taken for its
/// own or removed.
@Suite struct ForeignFilesTests {
    let root = NSTemporaryDirectory() + "mbctl-foreign-\(UUID().uuidString)"
    var layout: HostLayout { HostLayout().rooted(at: root) }
    let name: MachineName

    init() throws {
        name = try MachineName("web")
    }

    @Test func aRecordThatIsAFIFOIsADamagedRecordNamingIt() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        #expect(mkfifo("\(root)/current.json", 0o600) == 0)
        let directory = try DirectoryHandle.open(root)
        #expect {
            try GenerationRecord.read(Array("current.json".utf8), in: directory, path: "\(root)/current.json")
        } throws: { error in
            guard case Man8SError.damagedRecord(let path, let reason) = error else { return false }
            return path == "\(root)/current.json" && reason.contains("a FIFO")
        }
    }

    @Test func removingTheDropInKeepsTheOperatorsOwnAndToleratesNone() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try MachineUnitDropIn.remove(name, layout: layout)  // nothing there: nothing to do
        let recovery = RecoveryCommand(executable: "/usr/bin/mbctl", configurationFile: nil)
        try MachineUnitDropIn.write(name, recovery: recovery, settings: MachineSettings(), layout: layout, undo: nil)
        let directory = "\(layout.systemdUnits)/systemd-nspawn@web.service.d"
        try "[Service]\nMemoryMax=1G\n".write(toFile: "\(directory)/60-operator.conf", atomically: false, encoding: .utf8)
        try MachineUnitDropIn.remove(name, layout: layout)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["60-operator.conf"])
        try FileManager.default.removeItem(atPath: "\(directory)/60-operator.conf")
        try MachineUnitDropIn.write(name, recovery: recovery, settings: MachineSettings(), layout: layout, undo: nil)
        try MachineUnitDropIn.remove(name, layout: layout)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func aDirectoryWhereTheSystemdLinkGoesIsAnotherToolsAndStays() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try MachineDirectories.open(layout)
        try FileManager.default.createDirectory(atPath: "\(layout.systemdLink(of: name))/etc", withIntermediateDirectories: true)
        #expect {
            try MachineRemoval(layout: layout).remove(name)
        } throws: { error in
            guard let refused = error as? RefusedPath else { return false }
            return refused.path == layout.systemdLink(of: name) && refused.reason.contains("not the symlink mbctl makes")
        }
        #expect(FileManager.default.fileExists(atPath: "\(layout.systemdLink(of: name))/etc"))
    }
}

extension ForeignFilesTests {
    /// Another machine's damaged record stops a pull, naming it, rather than the pull guessing
    /// the address that machine has.
    @Test func aDamagedRecordOfAnotherMachineStopsAPullNamingIt() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directories = try MachineDirectories.open(layout)
        let records = "\(layout.machines)/.generations/other"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: true)
        try "{not json".write(toFile: "\(records)/current.json", atomically: false, encoding: .utf8)
        try "".write(toFile: "\(layout.nspawnFiles)/other.nspawn", atomically: false, encoding: .utf8)
        let prefix = try IPv6Prefix(parsing: "300:2e98:a4b0:1789::/64")
        let pull = MachinePull(build: MachineBuild(layout: layout, images: ImageAccess(cacheDirectory: layout.cache)))
        #expect {
            try pull.checkFree(name, address: YggdrasilAddress(machineName: "web", prefix: prefix), prefix: prefix, in: directories, claimedByOthers: [])
        } throws: { error in
            guard case Man8SError.damagedRecord(let path, _) = error else { return false }
            return path.hasSuffix(".generations/other/current.json")
        }
    }
}
