import ConfinedFilesystem
import Foundation
import SystemErrors

/// The files that give machines names: each machine's hosts file, where every machine of the
/// host is `NAME` and `NAME.man8s.local` at its yggdrasil address, and, for a machine given a DNS
/// server, its resolver file.
///
/// Both live with mbctl's records (`.generations/NAME/hosts`, `.generations/NAME/resolv.conf`) and
/// are bound read-only on the machine's `/etc/hosts` and `/etc/resolv.conf` (``NspawnFile``): a
/// machine reads them and can change neither. They are written from mbctl's records only (the
/// addresses in `current.json`, the image's own entries kept there when the generation was built,
/// the operator's `--add-host` and `--dns`), never from anything a machine wrote. A hosts file is
/// rewritten in place, so that running machines see a new machine, or lose a removed one, at once.
struct MachineNameFiles {
    let directories: MachineDirectories

    static let hostsName = Array("hosts".utf8)
    static let resolverName = Array("resolv.conf".utf8)
    static let lockName = Array("names.lock".utf8)
    /// The domain under which every machine is also known.
    static let domain = "man8s.local"

    /// Rewrites the files of `target` and the hosts files of every other machine mbctl keeps
    /// records of. A failure for `target` is thrown; one for another machine (removed meanwhile,
    /// say) is returned as a warning: its files are written again by the next change, or when it
    /// starts.
    func refresh(for target: MachineName?) throws -> [String] {
        let lock = try lockNames()
        defer { lock.release() }
        let machines = try knownMachines()
        var warnings: [String] = []
        if let target { try write(target, machines: machines, create: true) }
        for (name, _) in machines where name != target {
            do {
                try write(name, machines: machines, create: false)
            } catch {
                warnings.append("could not update the names of machine \(name): \(error)")
            }
        }
        return warnings
    }

    /// Writes the files of `name` only (at its start: they are there even when the machine was
    /// made by an older mbctl).
    func refresh(only name: MachineName) throws {
        let lock = try lockNames()
        defer { lock.release() }
        try write(name, machines: try knownMachines(), create: true)
    }

    private func lockNames() throws -> FileLock {
        let path = "\(directories.layout.machines)/.locks"
        return try naming("\(path)/names.lock") {
            _ = try directories.machines.makeDirectoryIfMissing(MachineLock.directoryName, mode: 0o700)
            return try FileLock.acquire(Self.lockName, in: try directories.machines.openDirectory(MachineLock.directoryName))
        }
    }

    /// Every machine of the host whose record says its address, with that address.
    private func knownMachines() throws -> [(name: MachineName, address: YggdrasilAddress)] {
        MachineList(layout: directories.layout).names().compactMap { text in
            guard let name = try? MachineName(text), let address = (try? directories.record(of: name))??.yggdrasilAddress else { return nil }
            return (name, address)
        }
    }

    private func write(_ name: MachineName, machines: [(name: MachineName, address: YggdrasilAddress)], create: Bool) throws {
        guard let records = try MachineGenerations.open(name, in: directories, create: create) else { return }
        let settings = try MachineSettings.read(of: name, in: directories)
        let imageEntries = try records.current()?.imageHosts
        let hosts = Self.hostsText(for: name, imageEntries: imageEntries, machines: machines, added: settings.hosts)
        try naming(directories.layout.hostsFile(of: name)) { try records.handle.rewriteFile(Self.hostsName, contents: Array(hosts.utf8), mode: 0o644) }
        let resolver = try Self.resolverText(settings.dns, machines: machines)
        try naming(directories.layout.resolverFile(of: name)) {
            if let resolver {
                try records.handle.rewriteFile(Self.resolverName, contents: Array(resolver.utf8), mode: 0o644)
            } else {
                try records.handle.remove(Self.resolverName)
            }
        }
    }

    /// A machine's hosts file: the operator's entries first (the first line naming a host
    /// wins), then every machine of the host, then the image's own entries (localhost's when
    /// the image has none).
    static func hostsText(
        for name: MachineName, imageEntries: [HostsEntry]?, machines: [(name: MachineName, address: YggdrasilAddress)], added: [HostsEntry]
    ) -> String {
        var lines = [
            "# The hosts file of machine \(name), kept by mbctl: every machine of this host is NAME and NAME.\(domain).",
            "# mbctl rewrites it as machines come and go; add entries with: mbctl machines configure \(name) --add-host NAME:ADDRESS",
        ]
        lines += added.map(\.description)
        lines += machines.map { "\($0.address) \($0.name) \($0.name).\(domain)" }
        let image = imageEntries ?? []
        if !image.contains(where: { $0.names.contains("localhost") }) {
            lines += ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
        }
        lines += image.map(\.description)
        return lines.joined(separator: "\n") + "\n"
    }

    /// A machine's resolver file; nil when it has none (no DNS server given, or the host's).
    static func resolverText(_ choice: ResolverChoice?, machines: [(name: MachineName, address: YggdrasilAddress)]) throws -> String? {
        switch choice {
        case .none, .host:
            return nil
        case .address(let address):
            return "# Written by mbctl (--dns).\nnameserver \(address)\n"
        case .machine(let server):
            guard let address = machines.first(where: { $0.name == server })?.address else {
                throw Man8SError.invalidSetting("--dns \(server)", reason: "mbctl has no record of machine \(server)'s address")
            }
            return "# Written by mbctl (--dns \(server)).\nnameserver \(address)\n"
        }
    }

    /// The image's own entries, read from a freshly built rootfs (before any machine ran in
    /// it): at most 64 KiB of `/etc/hosts`, when it is a regular file (a link, a FIFO or a
    /// directory there counts as none); invalid lines are left out.
    static func imageEntries(inRootfs path: String) -> [HostsEntry] {
        guard let root = try? RootDirectory(path: path), let etc = try? root.openDirectory(EntryPath("/etc")),
            let bytes = try? etc.readFile(hostsName, limit: 1 << 16)
        else { return [] }
        return HostsEntry.parse(String(decoding: bytes, as: UTF8.self))
    }
}
