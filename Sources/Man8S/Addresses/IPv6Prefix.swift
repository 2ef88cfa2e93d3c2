import Crypto
import Foundation

/// An IPv6 network prefix such as `300:2e98:a4b0:1789::/64`.
public struct IPv6Prefix: Hashable, Sendable, CustomStringConvertible {
    public let network: [UInt8]
    public let length: Int

    /// Reads `ADDRESS/LENGTH`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = Int(parts[1]), (0...128).contains(length) else {
            throw Man8SError.invalidPrefix(text, reason: "expected an IPv6 prefix such as 300:2e98:a4b0:1789::/64")
        }
        var address = in6_addr()
        guard inet_pton(AF_INET6, String(parts[0]), &address) == 1 else {
            throw Man8SError.invalidPrefix(text, reason: "\"\(parts[0])\" is not an IPv6 address")
        }
        self.network = withUnsafeBytes(of: &address) { Array($0) }
        self.length = length
    }

    public var description: String { "\(YggdrasilAddress(bytes: network))/\(length)" }
}
