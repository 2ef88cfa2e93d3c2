import ConfinedFilesystem
import Foundation
import OCILayout
import SystemErrors

/// The host's Man8S directories (``HostLayout``), opened once: every later step reaches a
/// machine's files through these handles and the machine's name, never by joining strings, so
/// nothing renamed or planted on the way can send it elsewhere.
///
/// The machines directory is private (0700, as systemd keeps `/var/lib/machines`): rootfses
/// hold the images' setuid-root files and world-writable devices, which no host user may reach.
/// The directories are the host's layout: made once when missing and never removed.
struct MachineDirectories {
    let layout: HostLayout
    let machines: DirectoryHandle
    let systemdMachines: DirectoryHandle
    let nspawnFiles: DirectoryHandle
    let configs: DirectoryHandle
    let storage: DirectoryHandle
    /// What opening changed on the host that the operator should hear of.
    let notices: [String]

    /// Opens the layout's directories, making those that are missing.
    static func open(_ layout: HostLayout) throws -> MachineDirectories {
        try open(layout, create: true)
    }

    /// Opens the layout's directories as they are, changing nothing (to remove or list
    /// machines); nil when one is missing, and with it every machine.
    static func openExisting(_ layout: HostLayout) throws -> MachineDirectories? {
        do {
            return try open(layout, create: false)
        } catch let error as FilesystemError where error.errno == ENOENT {
            return nil
        }
    }

    private static func open(_ layout: HostLayout, create: Bool) throws -> MachineDirectories {
        // Made private, or narrowed to private, when mbctl is about to put a machine there.
        let machines = try HostDirectory.open(layout.machines, mode: 0o700, privacy: create ? .ownedByUserNarrowed : .shared, create: create)
        let systemdMachines = try HostDirectory.open(layout.systemdMachines, mode: 0o700, create: create)
        let nspawnFiles = try HostDirectory.open(layout.nspawnFiles, mode: 0o755, create: create)
        let configs = try HostDirectory.open(layout.configs, mode: 0o755, create: create)
        let storage = try HostDirectory.open(layout.storage, mode: 0o755, create: create)
        return MachineDirectories(
            layout: layout, machines: machines.handle, systemdMachines: systemdMachines.handle,
            nspawnFiles: nspawnFiles.handle, configs: configs.handle, storage: storage.handle,
            notices: machines.narrowed ? ["made \(layout.machines) private (mode 0700): it holds the machines' root filesystems"] : [])
    }

    static func nspawnFileName(_ name: MachineName) -> [UInt8] { Array("\(name).nspawn".utf8) }
    static let environmentFileName = Array("man8env.env".utf8)
    /// What a machine's `man8env.env` is read up to: far more than mbctl writes, and a bound on
    /// what a machine that rewrote its own file can make mbctl read.
    static let environmentFileLimit = 1 << 20

    /// Whether anything of machine `name` is there: rootfs, systemd link or nspawn file.
    func exists(_ name: MachineName) throws -> Bool {
        try naming(layout.machines) { try machines.status(of: name.bytes) } != nil
            || (try naming(layout.systemdMachines) { try systemdMachines.status(of: name.bytes) }) != nil
            || (try naming(layout.nspawnFiles) { try nspawnFiles.status(of: Self.nspawnFileName(name)) }) != nil
    }

    /// Machine `name`'s `man8env.env`, parsed (bounded, never through a link); empty when it has
    /// none. The machine can write this file: what it says is shown as the machine's settings,
    /// never taken as mbctl's facts (those are in ``record(of:)``).
    func environment(of name: MachineName) -> [(key: String, value: String)] {
        guard let directory = try? configs.openDirectory(name.bytes),
            let bytes = try? directory.readFile(Self.environmentFileName, limit: Self.environmentFileLimit)
        else { return [] }
        return EnvironmentFile.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Machine `name`'s `man8env.env` whole, to carry its lines into a new generation; nil when
    /// there is none. Anything but a regular file of at most 1 MiB is refused, naming the file:
    /// an upgrade never follows a link there, waits on a FIFO or cuts the file mid-line.
    func carriedEnvironment(of name: MachineName) throws -> String? {
        let path = layout.environmentFile(of: name)
        guard try naming(layout.configs, { try configs.status(of: name.bytes) }) != nil else { return nil }
        // A configuration directory replaced by a link or a file is an error, never "no settings".
        let directory = try naming(layout.configDirectory(of: name)) { try configs.openDirectory(name.bytes) }
        if let info = try naming(path, { try directory.status(of: Self.environmentFileName) }), (info.st_mode & S_IFMT) != S_IFREG {
            throw UnexpectedFileKind(
                path: path, mode: info.st_mode, expected: S_IFREG,
                advice: "mbctl neither follows nor reads it (put the machine's settings back as a regular file, or remove it)")
        }
        guard let bytes = try naming(path, { try directory.readFile(Self.environmentFileName, limit: Self.environmentFileLimit + 1) }) else { return nil }
        guard bytes.count <= Self.environmentFileLimit else {
            throw Man8SError.unusableEnvironmentFile(path: path, reason: "larger than 1 MiB, more than mbctl carries into a new generation; shorten it")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What mbctl recorded of machine `name`'s current generation; nil for a machine made before
    /// mbctl kept records (or by another tool). A damaged record is an error naming it.
    func record(of name: MachineName) throws -> GenerationRecord? {
        try MachineGenerations.open(name, in: self, create: false)?.current()
    }

    /// The names of staging directories: `.NAME.mbctl-` and eight hex digits.
    static func stagingName(of name: MachineName, suffix: String) -> [UInt8] {
        Array(".\(name).mbctl-\(suffix)".utf8)
    }

    /// Removes what a run for `name` that was killed left: staging rootfses and half-written
    /// files. Only for a caller that holds the machine's lock, so that no live run owns them.
    func removeLeftovers(of name: MachineName) throws -> [String] {
        var removed: [String] = []
        let prefix = Array(".\(name).mbctl-".utf8)
        for entry in try naming(layout.machines, { try machines.entries() }) where entry.starts(with: prefix) {
            let suffix = entry.dropFirst(prefix.count)
            guard suffix.count == 8, suffix.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) }) else { continue }
            let path = "\(layout.machines)/\(String(decoding: entry, as: UTF8.self))"
            try naming(path) { try machines.removeTree(entry) }
            removed.append(path)
        }
        let halfWritten = Self.nspawnFileName(name) + Array(".mbctl-new".utf8)
        if try naming(layout.nspawnFiles, { try nspawnFiles.status(of: halfWritten) }) != nil {
            try naming(layout.nspawnFiles) { try nspawnFiles.remove(halfWritten) }
        }
        return removed
    }
}

extension MachineName {
    var bytes: [UInt8] { Array(value.utf8) }
}

/// `body`, with a ``SystemCallError`` turned into ``Man8SError/filesystem(path:operation:errno:)``
/// naming `path`.
func naming<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SystemCallError {
        throw FilesystemError(path: path, operation: error.operation, errno: error.errno)
    }
}
