#if canImport(Glibc)
import Glibc
#endif

/// One line of a hosts file: an IPv4 or IPv6 address and the names it answers to.
///
/// Entries reach mbctl from images (their own `/etc/hosts`) and from operators
/// (`--add-host NAME:ADDRESS`); both end up in a file every program of a machine reads, so an
/// entry holds only an address `inet_pton` accepts and names made of letters, digits, `-`, `_`
/// and `.`: nothing that could start another line or a comment.
public struct HostsEntry: Codable, Equatable, Sendable, CustomStringConvertible {
    public var address: String
    public var names: [String]

    /// The longest name a resolver takes (RFC 1035, without the final dot).
    public static let longestName = 253

    public init(address: String, names: [String]) throws {
        guard Self.isAddress(address) else { throw Man8SError.invalidSetting(address, reason: "an address is IPv4 or IPv6, as 10.0.0.2 or fd00::2") }
        guard !names.isEmpty else { throw Man8SError.invalidSetting(address, reason: "an address in a hosts file needs a name") }
        for name in names where !Self.isName(name) {
            throw Man8SError.invalidSetting(name, reason: "a host name is letters, digits, '-', '_' and dot-separated parts, at most 253 characters")
        }
        self.address = address
        self.names = names
    }

    /// `--add-host NAME:ADDRESS` (split at the first `:`, so the address may be IPv6).
    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            throw Man8SError.invalidSetting(text, reason: "an added host is NAME:ADDRESS")
        }
        let name = String(text[..<colon]), address = String(text[text.index(after: colon)...])
        guard Self.isName(name) else {
            throw Man8SError.invalidSetting(text, reason: "a host name is letters, digits, '-', '_' and dot-separated parts, at most 253 characters")
        }
        try self.init(address: address, names: [name])
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(address: try container.decode(String.self, forKey: .address), names: try container.decode([String].self, forKey: .names))
        } catch let error as Man8SError {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    /// The entry as a line of a hosts file.
    public var description: String { ([address] + names).joined(separator: " ") }

    /// The entries of a hosts file's text: comments and blank lines left out, and so is every
    /// line that is not an address followed by valid names.
    public static func parse(_ text: String) -> [HostsEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let content = line.prefix { $0 != "#" }
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2 else { return nil }
            return try? HostsEntry(address: fields[0], names: Array(fields.dropFirst()))
        }
    }

    static func isAddress(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 45, !text.contains("%") else { return false }
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
    }

    static func isName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= longestName, !text.hasPrefix("-"), !text.hasPrefix("."), !text.hasSuffix("."), !text.contains("..")
        else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }
}
