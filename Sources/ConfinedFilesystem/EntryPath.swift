/// A path inside a root (a rootfs, or a directory everything must stay beneath), as raw bytes
/// split into components.
///
/// Names in a tar are bytes, not necessarily UTF-8, and must reach the filesystem unchanged, so
/// they are never turned into Swift `String`s on the way. Cleaning is lexical and rooted, as
/// Docker's does: `.` and empty components go, `..` removes the previous component and stops at
/// the root, a leading `/` means nothing. Whatever a name says, the result is below the root.
public struct EntryPath: Hashable, Sendable {
    public private(set) var components: [[UInt8]]

    public init(components: [[UInt8]]) {
        self.components = components
    }

    public init(raw bytes: [UInt8]) {
        var components: [[UInt8]] = []
        for part in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.count == 1 && part.first == UInt8(ascii: ".") { continue }
            if part.count == 2 && part.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                if !components.isEmpty { components.removeLast() }
                continue
            }
            components.append(Array(part))
        }
        self.components = components
    }

    /// `text` as a path: its UTF-8 bytes, cleaned as above.
    public init(_ text: String) {
        self.init(raw: Array(text.utf8))
    }

    /// True for the root itself.
    public var isRoot: Bool { components.isEmpty }

    public var parent: EntryPath { EntryPath(components: Array(components.dropLast())) }

    public var name: [UInt8] { components.last ?? [] }

    public func appending(_ component: [UInt8]) -> EntryPath {
        EntryPath(components: components + [component])
    }

    /// Whether `other` is this path or below it.
    public func contains(_ other: EntryPath) -> Bool {
        other.components.count >= components.count && Array(other.components.prefix(components.count)) == components
    }

    /// `a/b/c` as bytes, `.` for the root: what the *at calls take relative to the root.
    public var relativeBytes: [UInt8] {
        components.isEmpty ? [UInt8(ascii: ".")] : Array(components.joined(separator: [UInt8(ascii: "/")]))
    }

    /// For messages: the path with invalid UTF-8 repaired.
    public var display: String { "/" + String(decoding: relativeBytes, as: UTF8.self) }
}

/// Calls `body` with `bytes` as a NUL-terminated C string.
@inline(__always)
public func withCPath<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
    var terminated = bytes.map { CChar(bitPattern: $0) }
    terminated.append(0)
    return try body(terminated)
}
