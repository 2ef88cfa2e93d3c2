/// A machine name, checked the way machinectl checks one before anything is touched: it names
/// a directory under /var/lib/machines, an nspawn file and a hostname, so it must be a valid
/// hostname — letters, digits, `-`, `_` and `.`, at most 64 characters, no leading, trailing or
/// doubled dot (so no `..` and no path), no leading `-`.
public struct MachineName: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public static let maximumLength = 64

    public init(_ text: String) throws {
        func fail(_ reason: String) -> Man8SError { .invalidMachineName(text, reason: reason) }
        guard !text.isEmpty else { throw fail("it is empty") }
        guard text.utf8.count <= Self.maximumLength else { throw fail("it is longer than \(Self.maximumLength) characters") }
        guard text.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) })
        else {
            throw fail("only letters, digits, '-', '_' and '.' are allowed")
        }
        guard !text.hasPrefix("."), !text.hasSuffix("."), !text.contains("..") else {
            throw fail("dots may only separate parts of the name")
        }
        guard !text.hasPrefix("-") else { throw fail("it may not start with '-'") }
        value = text
    }

    public var description: String { value }
}
