import ConfinedFilesystem
import Foundation
import SystemErrors

/// Going from a machine's current generation to another (see ``MachineGenerations``): the
/// current one is kept as generation `outgoing`, and the one prepared in `incoming` (`next`, or
/// the number of a kept generation) takes its place: rootfs, `NAME.nspawn`, `man8env.env`.
///
/// Crash-safe: the journal is written (and synced) before anything moves, every step finds out
/// what is done and does only the rest, and whoever finds the journal finishes the transition
/// (``recover(_:)``): every machines command for NAME, and the unit's `ExecStartPre` before a
/// boot. So a `kill -9` at any moment leaves the old generation, or the new one once any mbctl
/// ran, never a mix that boots.
struct MachineTransition: Codable, Equatable {
    var incoming: String
    var outgoing: Int
    /// Kept generations after the transition.
    var keep: Int

    /// Writes the journal, then carries the transition out.
    func begin(in generations: MachineGenerations, stoppingAt stop: Moment? = nil) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let journal = Array(try encoder.encode(self))
        try naming("\(generations.path)/journal.json") {
            try generations.handle.writeFile(MachineGenerations.journal, contents: journal, mode: 0o600)
        }
        try run(in: generations, stoppingAt: stop)
    }

    /// Finishes a transition a killed mbctl left; false when there was none.
    @discardableResult
    static func recover(_ generations: MachineGenerations) throws -> Bool {
        guard let bytes = try naming(generations.path, { try generations.handle.readFile(MachineGenerations.journal, limit: 1 << 16) }) else {
            return false
        }
        guard let transition = try? JSONDecoder().decode(MachineTransition.self, from: Data(bytes)) else {
            throw Man8SError.damagedRecord(path: "\(generations.path)/journal.json", reason: "it is not a journal mbctl wrote")
        }
        try transition.run(in: generations)
        return true
    }

    /// The moments between the steps of a transition, for tests that stop one there as a
    /// `kill -9` would.
    enum Moment: CaseIterable {
        case copiedCurrentFiles, keptCurrentRootfs, movedIncomingRootfs, installedNspawnFile, installedEnvironment, removedIncoming
    }

    struct Stopped: Error {}

    func run(in generations: MachineGenerations, stoppingAt stop: Moment? = nil) throws {
        func reached(_ moment: Moment) throws {
            if moment == stop { throw Stopped() }
        }
        let directories = generations.directories, name = generations.name
        let rootfsName = MachineGenerations.rootfs, nspawnName = MachineDirectories.nspawnFileName(name)
        let environmentName = MachineDirectories.environmentFileName
        let environmentPath = directories.layout.environmentFile(of: name)
        try naming(generations.path) {
            // 1. The current generation is kept as `outgoing`: copies of its files, then its rootfs.
            if try directories.machines.status(of: name.bytes) != nil {
                let kept = Array(String(outgoing).utf8)
                _ = try generations.handle.makeDirectoryIfMissing(kept, mode: 0o700)
                let keptDirectory = try generations.handle.openDirectory(kept)
                if try keptDirectory.status(of: rootfsName) == nil {
                    if let nspawn = try directories.nspawnFiles.readFile(nspawnName, limit: Self.largestFile) {
                        try keptDirectory.writeFile(nspawnName, contents: nspawn, mode: 0o644)
                    }
                    // Only a regular file is kept: a link or FIFO planted there is nobody's settings.
                    if let configuration = try? directories.configs.openDirectory(name.bytes),
                        let info = try configuration.status(of: environmentName), (info.st_mode & S_IFMT) == S_IFREG,
                        let environment = try naming(environmentPath, { try configuration.readFile(environmentName, limit: Self.largestFile) })
                    {
                        try keptDirectory.writeFile(environmentName, contents: environment, mode: 0o644)
                    }
                    let record = try generations.current().map { record -> [UInt8] in
                        var numbered = record
                        numbered.number = outgoing
                        numbered.keptAt = Date()
                        return try numbered.encoded()
                    }
                    if let record { try keptDirectory.writeFile(MachineGenerations.generationRecord, contents: record, mode: 0o600) }
                    try reached(.copiedCurrentFiles)
                    try directories.machines.rename(name.bytes, to: rootfsName, in: keptDirectory)
                    try reached(.keptCurrentRootfs)
                }
            }
            // 2. The incoming generation's rootfs takes the machine's place.
            if try generations.handle.status(of: Array(incoming.utf8)) != nil {
                let incomingDirectory = try generations.handle.openDirectory(Array(incoming.utf8))
                if try directories.machines.status(of: name.bytes) == nil, try incomingDirectory.status(of: rootfsName) != nil {
                    try incomingDirectory.renameWithoutReplacing(rootfsName, to: name.bytes, in: directories.machines)
                    try reached(.movedIncomingRootfs)
                }
                // 3. Its files, each written whole where Man8S keeps it, then taken from here.
                if let incomingNspawn = try incomingDirectory.readFile(nspawnName, limit: Self.largestFile) {
                    // The settings the machine has now, whatever the generation had.
                    let settings = try MachineSettings.read(of: name, in: directories)
                    let nspawn = Array(
                        try NspawnFile.serving(settings, of: name, layout: directories.layout, in: String(decoding: incomingNspawn, as: UTF8.self)).utf8)
                    try naming(directories.layout.nspawnFile(of: name)) { try directories.nspawnFiles.writeFile(nspawnName, contents: nspawn, mode: 0o644) }
                    try reached(.installedNspawnFile)
                    try incomingDirectory.remove(nspawnName)
                }
                if let environment = try incomingDirectory.readFile(environmentName, limit: Self.largestFile) {
                    try naming(environmentPath) {
                        _ = try directories.configs.makeDirectoryIfMissing(name.bytes, mode: 0o700)
                        try directories.configs.openDirectory(name.bytes).writeFile(environmentName, contents: environment, mode: 0o644)
                    }
                    try reached(.installedEnvironment)
                    try incomingDirectory.remove(environmentName)
                }
                if let record = try incomingDirectory.readFile(MachineGenerations.generationRecord, limit: GenerationRecord.largestRecord) {
                    try generations.handle.writeFile(MachineGenerations.currentRecord, contents: record, mode: 0o600)
                    try incomingDirectory.remove(MachineGenerations.generationRecord)
                }
                try generations.handle.removeTree(Array(incoming.utf8))
                try reached(.removedIncoming)
            }
            // 4. Done.
            try generations.handle.remove(MachineGenerations.journal)
        }
        try generations.prune(keeping: keep)
        // The image's own hosts entries are the new generation's.
        try MachineNameFiles(directories: generations.directories).refresh(only: generations.name)
    }

    /// The nspawn file and man8env.env are small; a bound on what is copied between generations.
    static let largestFile = 1 << 20
}
