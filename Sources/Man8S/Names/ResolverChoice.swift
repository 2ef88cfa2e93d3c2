/// Where a machine sends its DNS queries (`--dns`), as Man8S-CTR had it: the host's resolvers,
/// a server's address, or another machine of the host (by its yggdrasil address). Without a
/// choice, a machine uses what nspawn copies in and its DHCP lease names.
public enum ResolverChoice: Codable, Equatable, Sendable, CustomStringConvertible {
    /// The host's `/etc/resolv.conf`, bound in read-only (nspawn's `ResolvConf=bind-host`).
    case host
    case address(String)
    case machine(MachineName)

    /// `host`, an IPv4 or IPv6 address, or a machine name.
    public init(parsing text: String) throws {
        if text == "host" {
            self = .host
        } else if HostsEntry.isAddress(text) {
            self = .address(text)
        } else if let name = try? MachineName(text) {
            self = .machine(name)
        } else {
            throw Man8SError.invalidSetting("--dns \(text)", reason: "a DNS server is host, an IPv4 or IPv6 address, or a machine's name")
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch let error as Man8SError {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String {
        switch self {
        case .host: return "host"
        case .address(let address): return address
        case .machine(let name): return name.value
        }
    }
}
