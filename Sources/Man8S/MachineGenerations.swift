import ConfinedFilesystem
import Foundation
import SystemErrors

/// What mbctl knows of one generation of a machine: the image it was made from, its address and
/// template, its volumes, and the `man8env.env` mbctl wrote for it (without the user's lines, so
/// that an upgrade can tell the user's lines from mbctl's).
///
/// These records are mbctl's facts about a machine. They live in the private machines directory
/// (`.generations/NAME/`, mode 0600), out of every machine's reach; `man8env.env` is written from
/// them and never read back for a decision, since the machine itself can rewrite that file.
struct GenerationRecord: Codable, Equatable {
    struct Volume: Codable, Equatable {
        var path: String
        /// `config`, `data` or `custom`.
        var kind: String
        var hostPath: String
    }

    var number: Int
    var image: String
    var digest: String?
    /// The machine's yggdrasil address (nil in records of mbctl 0.1, which did not keep it).
    var address: String?
    /// The machine's template (nil in records of mbctl 0.1: `network_isolated`).
    var template: String?
    var createdAt: Date
    var volumes: [Volume]
    /// The `man8env.env` mbctl wrote for this generation, without lines the user added.
    var written: String
    /// When it was kept for rollback (set when it stops being the current generation).
    var keptAt: Date?

    init(_ machine: MachineDefinition, number: Int, written: String) {
        self.number = number
        self.image = machine.image
        self.digest = machine.imageDigest
        self.address = machine.address.description
        self.template = machine.template
        let volumes = machine.volumes
        self.createdAt = machine.createdAt
        self.volumes = volumes.map { volume in
            let kind: String
            switch volume.choice {
            case .config: kind = "config"
            case .data: kind = "data"
            case .custom, .skip: kind = "custom"
            }
            return Volume(path: volume.containerPath.description, kind: kind, hostPath: volume.hostPath)
        }
        self.written = written
    }

    /// The machine's address, when the record has one that reads as an address.
    var yggdrasilAddress: YggdrasilAddress? { address.flatMap { try? YggdrasilAddress(parsing: $0) } }

    /// The volumes as mappings (those whose path no longer reads as a volume path are left out).
    var mappings: [VolumeMapping] {
        volumes.compactMap { volume in
            guard let path = try? VolumePath(volume.path) else { return nil }
            let choice: VolumeChoice = volume.kind == "config" ? .config : volume.kind == "data" ? .data : .custom(volume.hostPath)
            return VolumeMapping(containerPath: path, choice: choice, hostPath: volume.hostPath)
        }
    }

    static let largestRecord = 1 << 20

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(self))
    }

    /// The record in `bytes`; a record that does not decode is damaged, an error naming `path`.
    static func decode(_ bytes: [UInt8], path: String) throws -> GenerationRecord {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(GenerationRecord.self, from: Data(bytes))
        } catch {
            throw Man8SError.damagedRecord(path: path, reason: "it is not a generation record mbctl wrote (\(error))")
        }
    }

    /// The record `name` of `directory` (at `path`); nil when there is none. Anything but a
    /// regular file that decodes (a link, a FIFO, a damaged file) is an error naming `path`.
    static func read(_ name: [UInt8], in directory: DirectoryHandle, path: String) throws -> GenerationRecord? {
        let bytes: [UInt8]?
        do {
            bytes = try directory.readFile(name, limit: largestRecord + 1)
        } catch let error as SystemCallError {
            throw Man8SError.damagedRecord(path: path, reason: "cannot \(error.operation): \(String(cString: strerror(error.errno)))")
        }
        guard let bytes else { return nil }
        guard bytes.count <= largestRecord else { throw Man8SError.damagedRecord(path: path, reason: "it is larger than 1 MiB") }
        return try decode(bytes, path: path)
    }
}

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
