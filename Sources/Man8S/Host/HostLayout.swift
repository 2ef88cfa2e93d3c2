/// Where a Man8S host keeps machines (docs/host-contract.md, section 1). Every path can be moved, and
/// ``rooted(at:)`` puts all of them under one directory, for tests and for trying mbctl without
/// touching the host.
public struct HostLayout: Sendable, Equatable {
    /// Machines' root filesystems: `/var/lib/man8machines/NAME/`.
    public var machines = "/var/lib/man8machines"
    /// systemd's view: `/var/lib/machines/NAME` is a symlink to the rootfs.
    public var systemdMachines = "/var/lib/machines"
    /// `NAME.nspawn` files.
    public var nspawnFiles = "/etc/systemd/nspawn"
    /// systemd's unit directory, where each machine's unit gets mbctl's drop-in.
    public var systemdUnits = "/etc/systemd/system"
    /// Per-machine configuration (`man8env.env`, "config" volumes). The user's: never deleted.
    public var configs = "/var/lib/man8machine_configs"
    /// Per-machine data ("data" volumes). The user's: never deleted.
    public var storage = "/var/lib/man8machine_storage"
    /// The image cache, an OCI image layout.
    public var cache = "/var/tmp/man8s"
    /// The host's static busybox, copied into every machine.
    public var busybox = "/bin/busybox"
    /// The bridge machines join.
    public var bridge = "srvgrp0"
    /// yggdrasil's configuration, where `AdminListen` names its admin socket.
    public var yggdrasilConfigs = ["/etc/yggdrasil.conf", "/etc/yggdrasil/yggdrasil.conf"]

    public init() {}

    /// Every path of this layout under `root` (the bridge name stays).
    public func rooted(at root: String) -> HostLayout {
        var copy = self
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        copy.machines = base + machines
        copy.systemdMachines = base + systemdMachines
        copy.nspawnFiles = base + nspawnFiles
        copy.systemdUnits = base + systemdUnits
        copy.configs = base + configs
        copy.storage = base + storage
        copy.cache = base + cache
        copy.yggdrasilConfigs = yggdrasilConfigs.map { base + $0 }
        return copy
    }

    public func rootfs(of name: MachineName) -> String { "\(machines)/\(name)" }
    public func systemdLink(of name: MachineName) -> String { "\(systemdMachines)/\(name)" }
    public func nspawnFile(of name: MachineName) -> String { "\(nspawnFiles)/\(name).nspawn" }
    public func configDirectory(of name: MachineName) -> String { "\(configs)/\(name)" }
    public func dataDirectory(of name: MachineName) -> String { "\(storage)/\(name)" }
    public func environmentFile(of name: MachineName) -> String { "\(configs)/\(name)/man8env.env" }
    /// mbctl's records of a machine (``MachineGenerations``).
    public func records(of name: MachineName) -> String { "\(machines)/.generations/\(name)" }
    /// The hosts file mbctl keeps for a machine, bound read-only on its `/etc/hosts`.
    public func hostsFile(of name: MachineName) -> String { "\(records(of: name))/hosts" }
    /// The resolver file of a machine given a DNS server, bound read-only on its `/etc/resolv.conf`.
    public func resolverFile(of name: MachineName) -> String { "\(records(of: name))/resolv.conf" }
}
