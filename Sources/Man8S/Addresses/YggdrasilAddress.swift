import Crypto
import Foundation

/// The fixed yggdrasil IPv6 address of a machine (docs/host-contract.md, section 2): the host's
/// yggdrasil prefix, with the host bits taken from the SHA-256 of the machine's name.
///
/// Machines reach each other at these addresses, so the algorithm must never change: machines
/// made by the Python mbctl and by this one must agree on every name.
public struct YggdrasilAddress: Hashable, Sendable, CustomStringConvertible {
    /// The 16 address bytes, network order.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        self.bytes = bytes
    }

    /// The address of machine `name` under `prefix`.
    /// An address in IPv6 text form (`300:2e98:a4b0:1789::1`).
    public init(parsing text: String) throws {
        self.init(bytes: try IPv6Prefix(parsing: text + "/128").network)
    }

    public init(machineName name: String, prefix: IPv6Prefix) {
        let digest = Array(SHA256.hash(data: Data(name.utf8)))
        // The low 128 bits of the 256-bit digest are its last 16 bytes.
        let low = Array(digest.suffix(16))
        var result = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 {
            let networkBits = max(0, min(8, prefix.length - index * 8))
            let networkMask: UInt8 = networkBits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - networkBits))
            result[index] = (prefix.network[index] & networkMask) | (low[index] & ~networkMask)
        }
        self.init(bytes: result)
    }

    /// RFC 5952 text, as Python's `ipaddress` prints it: lower-case hex without leading zeros,
    /// the longest run (leftmost on a tie) of two or more zero groups written `::`.
    public var description: String {
        let groups = (0..<8).map { UInt16(bytes[$0 * 2]) << 8 | UInt16(bytes[$0 * 2 + 1]) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
