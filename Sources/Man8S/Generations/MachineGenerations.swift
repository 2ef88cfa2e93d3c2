import ConfinedFilesystem
import Foundation
import SystemErrors

/// A machine's generations on the host.
///
/// The current generation is where Man8S has always kept a machine: its rootfs at
/// `machines/NAME`, `NAME.nspawn`, `configs/NAME/man8env.env`. What mbctl knows of it is
/// `machines/.generations/NAME/current.json`. Each generation kept for `machines rollback` is a
/// directory `machines/.generations/NAME/N/` with `rootfs/`, `NAME.nspawn`, `man8env.env` and
/// `generation.json`. A generation being brought in is prepared in `next/` the same way.
///
/// Going from one generation to another moves a rootfs and rewrites two files: that cannot be
/// one atomic step, so it is a ``MachineTransition`` with a journal, completed by whichever
/// mbctl comes next (every machines command for NAME, and the unit's `ExecStartPre`).
struct MachineGenerations {
    let directories: MachineDirectories
    let name: MachineName
    /// `machines/.generations/NAME`.
    let handle: DirectoryHandle
    let path: String

    static let directoryName = Array(".generations".utf8)
    static let currentRecord = Array("current.json".utf8)
    static let generationRecord = Array("generation.json".utf8)
    static let journal = Array("journal.json".utf8)
    static let incoming = Array("next".utf8)
    static let rootfs = Array("rootfs".utf8)

    /// Opens (making when `create`) the generations of `name`; nil when there are none.
    static func open(_ name: MachineName, in directories: MachineDirectories, create: Bool) throws -> MachineGenerations? {
        let top = "\(directories.layout.machines)/.generations"
        return try naming(top) {
            if create {
                _ = try directories.machines.makeDirectoryIfMissing(directoryName, mode: 0o700)
            } else if try directories.machines.status(of: directoryName) == nil {
                return nil
            }
            let generations = try directories.machines.openDirectory(directoryName)
            if create {
                _ = try generations.makeDirectoryIfMissing(name.bytes, mode: 0o700)
            } else if try generations.status(of: name.bytes) == nil {
                return nil
            }
            return MachineGenerations(directories: directories, name: name, handle: try generations.openDirectory(name.bytes), path: "\(top)/\(name)")
        }
    }

    /// The record of the current generation; nil for a machine mbctl made before it kept records.
    func current() throws -> GenerationRecord? {
        try GenerationRecord.read(Self.currentRecord, in: handle, path: "\(path)/current.json")
    }

    /// The numbers of the generations kept, the one kept last first.
    func previous() throws -> [Int] {
        let numbers = try naming(path) { try handle.entries() }.compactMap { Int(String(decoding: $0, as: UTF8.self)) }
        let kept = Dictionary(uniqueKeysWithValues: numbers.map { ($0, record(of: $0)?.keptAt ?? .distantPast) })
        return numbers.sorted { (kept[$0] ?? .distantPast, $0) > (kept[$1] ?? .distantPast, $1) }
    }

    /// The record of kept generation `number` (nil when it has none, or it is damaged).
    func record(of number: Int) -> GenerationRecord? {
        guard let directory = try? handle.openDirectory(Array(String(number).utf8)) else { return nil }
        return try? GenerationRecord.read(Self.generationRecord, in: directory, path: "\(path)/\(number)/generation.json")
    }

    /// Removes the kept generations beyond the `keep` kept last.
    func prune(keeping keep: Int) throws {
        for number in try previous().dropFirst(max(0, keep)) {
            try naming("\(path)/\(number)") { try handle.removeTree(Array(String(number).utf8)) }
        }
    }

    /// Removes a `next/` that no journal refers to: a preparation that was interrupted.
    func removeAbandonedPreparation() throws {
        guard try naming(path, { try handle.status(of: Self.journal) }) == nil else { return }
        try naming("\(path)/next") { try handle.removeTree(Self.incoming) }
    }
}
