/// A port of the host published to a port of a machine: `HOSTPORT:MACHINEPORT[/tcp|/udp]`,
/// written as nspawn's `Port=PROTOCOL:HOSTPORT:MACHINEPORT`. systemd-nspawn forwards it (DNAT in
/// the host's network namespace) to the machine's first global IPv4 address.
public struct PublishedPort: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum PortProtocol: String, Codable, Sendable {
        case tcp, udp
    }

    public var portProtocol: PortProtocol
    public var hostPort: UInt16
    public var machinePort: UInt16

    public init(portProtocol: PortProtocol, hostPort: UInt16, machinePort: UInt16) {
        self.portProtocol = portProtocol
        self.hostPort = hostPort
        self.machinePort = machinePort
    }

    private enum CodingKeys: String, CodingKey {
        case portProtocol = "protocol", hostPort, machinePort
    }

    /// `HOSTPORT:MACHINEPORT[/tcp|/udp]` (tcp when no protocol is given); each port 1–65535.
    public init(parsing text: String) throws {
        let (ports, portProtocol) = try Self.splitProtocol(text)
        let parts = ports.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw Man8SError.invalidSetting(text, reason: "a published port is HOSTPORT:MACHINEPORT[/tcp|/udp]") }
        self.init(portProtocol: portProtocol, hostPort: try Self.port(parts[0], in: text), machinePort: try Self.port(parts[1], in: text))
    }

    /// What `--port -HOSTPORT[/PROTOCOL]` removes: a host port, and a protocol when one is given.
    public static func parseRemoval(_ text: String) throws -> (hostPort: UInt16, portProtocol: PortProtocol?) {
        let body = text.hasPrefix("-") ? String(text.dropFirst()) : text
        let named = body.contains("/")
        let (port, portProtocol) = try splitProtocol(body)
        return (try Self.port(Substring(port), in: text), named ? portProtocol : nil)
    }

    static func splitProtocol(_ text: String) throws -> (String, PortProtocol) {
        guard let slash = text.lastIndex(of: "/") else { return (text, .tcp) }
        guard let named = PortProtocol(rawValue: String(text[text.index(after: slash)...])) else {
            throw Man8SError.invalidSetting(text, reason: "the protocol is tcp or udp")
        }
        return (String(text[..<slash]), named)
    }

    static func port(_ text: Substring, in whole: String) throws -> UInt16 {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(\.isASCIIDigit), let value = Int(text), (1...65535).contains(value) else {
            throw Man8SError.invalidSetting(whole, reason: "a port is a number from 1 to 65535")
        }
        return UInt16(value)
    }

    public var description: String { "\(hostPort):\(machinePort)/\(portProtocol.rawValue)" }

    /// The nspawn setting.
    var nspawnLine: String { "Port=\(portProtocol.rawValue):\(hostPort):\(machinePort)" }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
