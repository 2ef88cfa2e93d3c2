import ConfinedFilesystem
import Foundation
import SystemErrors
import TrustPolicy

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
    /// How the signature policy let its image in (nil in records of mbctl before policies: not
    /// verified).
    var verification: ImageVerification?
    /// The image's own `/etc/hosts` entries, read when the generation was built (nil in records
    /// of mbctl before machines had names: none).
    var imageHosts: [HostsEntry]?
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
            throw Man8SError.damagedRecord(path: path, reason: error.description)
        } catch let error as UnexpectedFileKind {
            throw Man8SError.damagedRecord(path: path, reason: "it is \(error.kind), not \(error.expected)")
        }
        guard let bytes else { return nil }
        guard bytes.count <= largestRecord else { throw Man8SError.damagedRecord(path: path, reason: "it is larger than 1 MiB") }
        return try decode(bytes, path: path)
    }
}
