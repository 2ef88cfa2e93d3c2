import BlockingWork
import ConfinedFilesystem
import Foundation
import SystemErrors

/// The lock that lets one mbctl process at a time make, change or remove machine NAME.
///
/// Lock files live in `.locks/` of the (private) machines directory: `NAME.lock` for each
/// machine, `host.lock` around the check that a new machine's name and address are free. While
/// a pull holds `NAME.lock`, the file says which process it is, what it does and which address it
/// claims (`pid=… doing=… address=…`), so that a pull of another name checks against machines
/// being made as well as those that exist.
/// The kernel drops the locks of a killed process; its notes then mean nothing.
final class MachineLock {
    let name: MachineName
    private let lock: FileLock
    private let directory: DirectoryHandle
    private let directoryPath: String

    static let directoryName = Array(".locks".utf8)
    static let hostLockName = Array("host.lock".utf8)
    static func fileName(_ name: MachineName) -> [UInt8] { Array("\(name).lock".utf8) }

    private let purpose: Purpose

    private init(name: MachineName, lock: FileLock, directory: DirectoryHandle, directoryPath: String, purpose: Purpose) {
        self.purpose = purpose
        self.name = name
        self.lock = lock
        self.directory = directory
        self.directoryPath = directoryPath
    }

    /// What a holder does, for the message another process gets.
    enum Purpose: String {
        case make = "made"
        case remove = "removed"
        case upgrade = "upgraded"
        case start = "started"
        case configure = "configured"
    }

    /// Takes machine `name`'s lock, or fails at once naming the process that holds it.
    static func acquire(_ name: MachineName, for purpose: Purpose, in directories: MachineDirectories) throws -> MachineLock {
        let (directory, path) = try lockDirectory(in: directories)
        guard let lock = try naming("\(path)/\(name).lock", { try FileLock.attempt(fileName(name), in: directory) }) else {
            let note = Note(try? directory.readFile(fileName(name), limit: 512))
            throw Man8SError.machineBusy(name.value, process: note.fields["pid"].flatMap { Int32($0) }, doing: note.fields["doing"])
        }
        return try held(lock, of: name, for: purpose, in: directory, path: path)
    }

    /// Takes machine `name`'s lock, waiting while another mbctl holds it. Blocks: for commands
    /// that run no task (`machines recover`, lifecycle commands).
    static func waitFor(_ name: MachineName, for purpose: Purpose, in directories: MachineDirectories) throws -> MachineLock {
        let (directory, path) = try lockDirectory(in: directories)
        let lock = try naming("\(path)/\(name).lock") { try FileLock.acquire(fileName(name), in: directory) }
        return try held(lock, of: name, for: purpose, in: directory, path: path)
    }

    private static func lockDirectory(in directories: MachineDirectories) throws -> (DirectoryHandle, String) {
        let path = "\(directories.layout.machines)/.locks"
        let directory = try naming(path) {
            _ = try directories.machines.makeDirectoryIfMissing(directoryName, mode: 0o700)
            return try directories.machines.openDirectory(directoryName)
        }
        return (directory, path)
    }

    private static func held(_ lock: FileLock, of name: MachineName, for purpose: Purpose, in directory: DirectoryHandle, path: String) throws -> MachineLock {
        let held = MachineLock(name: name, lock: lock, directory: directory, directoryPath: path, purpose: purpose)
        try held.writeNote(address: nil)
        return held
    }

    private func writeNote(address: YggdrasilAddress?) throws {
        let note = "pid=\(getpid()) doing=\(purpose.rawValue)" + (address.map { " address=\($0)" } ?? "") + "\n"
        try naming("\(directoryPath)/\(name).lock") { try lock.write(note: note) }
    }

    /// A lock file's `key=value` words.
    private struct Note {
        let fields: [String: String]

        init(_ bytes: [UInt8]?) {
            var fields: [String: String] = [:]
            for word in String(decoding: bytes ?? [], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                guard let equals = word.firstIndex(of: "=") else { continue }
                fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
            self.fields = fields
        }
    }

    /// Under the host lock: runs `check` (which throws if the name or address is taken), with the
    /// addresses other pulls in progress claim, then claims `address` for this machine.
    func claim(_ address: YggdrasilAddress, after check: (_ claimedByOthers: [(name: String, address: String)]) throws -> Void) async throws {
        let path = "\(directoryPath)/host.lock"
        let directory = self.directory
        let host = try await BlockingWork.run { try naming(path) { try FileLock.acquire(Self.hostLockName, in: directory) } }
        defer { host.release() }
        try check(try claimsOfOthers())
        try writeNote(address: address)
    }

    /// Addresses claimed in the notes of locks held by other processes now.
    private func claimsOfOthers() throws -> [(name: String, address: String)] {
        var claims: [(name: String, address: String)] = []
        for entry in try naming(directoryPath, { try directory.entries() }) where entry.count > 5 && entry.suffix(5) == Array(".lock".utf8) {
            let other = String(decoding: entry.dropLast(5), as: UTF8.self)
            guard other != name.value, entry != Self.hostLockName, (try? FileLock.isHeld(entry, in: directory)) == true else { continue }
            if let address = Note(try? directory.readFile(entry, limit: 512)).fields["address"] { claims.append((other, address)) }
        }
        return claims
    }

    func release() { lock.release() }
}
