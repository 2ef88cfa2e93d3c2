import ConfinedFilesystem

/// Where a volume is inside a machine: a key of the image's `Volumes`, or the path of a
/// `--volume` flag, normalized as Docker normalizes it.
///
/// The image is hostile, so the text is cleaned lexically before anything uses it: absolute,
/// `.` and empty components dropped, `..` resolved and never above `/`. What is left is never `/`
/// itself, holds no control character (a line break would end a line of the nspawn file) and is
/// not where mbctl binds the machine's `man8env.env`.
public struct VolumePath: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The components below `/`, never empty.
    public let components: [String]

    public init(_ text: String) throws {
        func fail(_ reason: String) -> Man8SError { .invalidVolume(text, reason: reason) }
        guard !text.isEmpty else { throw fail("the path is empty") }
        guard text.hasPrefix("/") else { throw fail("not an absolute path") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw fail("the path holds a control character")
        }
        var components: [String] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." {
                _ = components.popLast()
            } else {
                components.append(String(part))
            }
        }
        guard !components.isEmpty else { throw fail("a volume cannot be the machine's root directory") }
        guard components != ["man8env.env"] else { throw fail("/man8env.env is where mbctl binds the machine's environment file") }
        self.components = components
    }

    public var description: String { "/" + components.joined(separator: "/") }

    /// The path as the in-root and beneath-only file operations take it.
    public var entryPath: EntryPath { EntryPath(components: components.map { Array($0.utf8) }) }

    /// Parents sort before what is below them.
    public static func < (left: VolumePath, right: VolumePath) -> Bool {
        left.components.lexicographicallyPrecedes(right.components)
    }
}
