import Foundation

/// Whether this host can forward a published port to a machine: systemd-nspawn's `Port=` adds a
/// DNAT rule to the machine's first global IPv4 address, which it has only with a DHCP lease on
/// the bridge (the bridge needs an IPv4 address for that), and the forwarded packets are routed,
/// which needs IPv4 forwarding on.
enum PortForwarding {
    /// What the running host lacks, one line each; empty when nothing is missing.
    static func missing(bridge: String) -> [String] {
        var missing: [String] = []
        let forwarding = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if forwarding != "1" {
            missing.append("IPv4 forwarding is off (turn it on: sysctl -w net.ipv4.ip_forward=1, and in /etc/sysctl.d to keep it)")
        }
        if !hasIPv4Address(bridge) {
            missing.append(
                "the bridge \(bridge) has no IPv4 address (give it one and a DHCP server, so that machines get the IPv4 address a port is forwarded to)")
        }
        return missing
    }

    /// Whether interface `name` has an IPv4 address.
    static func hasIPv4Address(_ name: String) -> Bool {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return false }
        defer { freeifaddrs(list) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            if let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                String(cString: current.pointee.ifa_name) == name
            {
                return true
            }
            entry = current.pointee.ifa_next
        }
        return false
    }
}
