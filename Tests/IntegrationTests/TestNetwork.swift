import Foundation

/// A Man8S host network in a network namespace of its own: bridge `srvgrp0` with an address of
/// a yggdrasil-style /64 and an IPv4 /24, busybox `udhcpd` for DHCPv4 and `radvd` for router
/// advertisements (SLAAC), as systemd-networkd provides on a real host. Everything it starts
/// is stopped, and the namespace deleted, when it goes away.
final class TestNetwork {
    let namespace = "mbctl-test-\(UUID().uuidString.prefix(8).lowercased())"
    let directory: String
    let prefix = "300:2e98:a4b0:1789::/64"
    let hostAddress6 = "300:2e98:a4b0:1789::1"
    let hostAddress4 = "10.199.0.1"
    private var servers: [BackgroundProcess] = []

    init() throws {
        directory = NSTemporaryDirectory() + namespace
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try runCommand(["ip", "netns", "add", namespace])
        do {
            try inside([
                "sh", "-c",
                """
                set -e
                ip link set lo up
                ip link add srvgrp0 type bridge
                ip addr add \(hostAddress6)/64 dev srvgrp0
                ip addr add \(hostAddress4)/24 dev srvgrp0
                ip link set srvgrp0 up
                sysctl -qw net.ipv6.conf.all.forwarding=1
                """,
            ])
            try """
            interface srvgrp0
            start 10.199.0.100
            end 10.199.0.150
            lease_file \(directory)/udhcpd.leases
            option router \(hostAddress4)
            option subnet 255.255.255.0
            option dns \(hostAddress4)
            """.write(toFile: "\(directory)/udhcpd.conf", atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: "\(directory)/udhcpd.leases", contents: nil)
            try """
            interface srvgrp0 {
                AdvSendAdvert on;
                MinRtrAdvInterval 3;
                MaxRtrAdvInterval 6;
                prefix \(prefix) { AdvOnLink on; AdvAutonomous on; };
            };
            """.write(toFile: "\(directory)/radvd.conf", atomically: true, encoding: .utf8)
            servers.append(
                try BackgroundProcess(
                    ["ip", "netns", "exec", namespace, "busybox", "udhcpd", "-f", "\(directory)/udhcpd.conf"], logPath: "\(directory)/udhcpd.log"))
            servers.append(
                try BackgroundProcess(
                    ["ip", "netns", "exec", namespace, "radvd", "-n", "-C", "\(directory)/radvd.conf", "-p", "\(directory)/radvd.pid", "-m", "stderr"],
                    logPath: "\(directory)/radvd.log"))
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    /// Runs a command inside the namespace, to completion.
    @discardableResult
    func inside(_ arguments: [String], check: Bool = true) throws -> CommandResult {
        try runCommand(["ip", "netns", "exec", namespace] + arguments, check: check)
    }

    /// Starts `systemd-nspawn` for a machine inside the namespace (with cgroup2 mounted there, as
    /// nspawn needs), reading its settings from `nspawnFile`, copied where nspawn looks.
    func boot(machine: String, directory rootfs: String, nspawnFile: String) throws -> BackgroundProcess {
        try FileManager.default.createDirectory(atPath: "/run/systemd/nspawn", withIntermediateDirectories: true)
        let settings = "/run/systemd/nspawn/\(machine).nspawn"
        try? FileManager.default.removeItem(atPath: settings)
        try FileManager.default.copyItem(atPath: nspawnFile, toPath: settings)
        settingsFiles.append(settings)
        let process = try BackgroundProcess(
            [
                "ip", "netns", "exec", namespace, "sh", "-c",
                "mount -t cgroup2 none /sys/fs/cgroup && exec systemd-nspawn --register=no --keep-unit -M \(machine) -D \(rootfs)",
            ],
            logPath: "\(directory)/\(machine).console")
        servers.append(process)
        return process
    }

    private var settingsFiles: [String] = []
    private var outsideNamespace: String?

    /// The host's address on the link to the outside namespace.
    let hostOutsideAddress4 = "10.198.0.1"

    /// Another network namespace, "outside" the host, joined to it by a veth pair
    /// (10.198.0.2 there, ``hostOutsideAddress4`` here): where a client of a published port is.
    /// Returns its name; it goes away with this network.
    func addOutside() throws -> String {
        let outside = "\(namespace)-out", id = namespace.suffix(8)
        try runCommand(["ip", "netns", "add", outside])
        outsideNamespace = outside
        try inside([
            "sh", "-c",
            """
            set -e
            ip link add vi\(id) type veth peer name vo\(id) netns \(outside)
            ip addr add \(hostOutsideAddress4)/24 dev vi\(id)
            ip link set vi\(id) up
            ip netns exec \(outside) ip addr add 10.198.0.2/24 dev vo\(id)
            ip netns exec \(outside) ip link set vo\(id) up
            ip netns exec \(outside) ip link set lo up
            """,
        ])
        return outside
    }

    private func tearDown() {
        // Whatever still runs in the namespace (machines' processes included) goes first.
        if let pids = try? runCommand(["ip", "netns", "pids", namespace], check: false).stdout {
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        for server in servers.reversed() { server.stop(abruptly: true) }
        servers.removeAll()
        _ = try? runCommand(["ip", "netns", "del", namespace], check: false)
        if let outsideNamespace { _ = try? runCommand(["ip", "netns", "del", outsideNamespace], check: false) }
        for file in settingsFiles { try? FileManager.default.removeItem(atPath: file) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
