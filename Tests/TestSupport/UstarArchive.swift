import Foundation

/// A tar archive (ustar) made in memory, for tests that need a layer without running `tar`:
/// directories, regular files and symlinks, owned by root.
public struct UstarArchive {
    public enum Entry: Sendable {
        case directory(String)
        case file(String, contents: String, mode: Int = 0o644)
        case symlink(String, target: String)
    }

    private var bytes: [UInt8] = []

    public init(_ entries: [Entry]) {
        for entry in entries {
            switch entry {
            case .directory(let path): append(name: path.hasSuffix("/") ? path : path + "/", type: "5", mode: 0o755, contents: [])
            case .file(let path, let contents, let mode): append(name: path, type: "0", mode: mode, contents: Array(contents.utf8))
            case .symlink(let path, let target): append(name: path, type: "2", mode: 0o777, contents: [], link: target)
            }
        }
        bytes += [UInt8](repeating: 0, count: 1024)
    }

    public var data: Data { Data(bytes) }

    private mutating func append(name: String, type: Character, mode: Int, contents: [UInt8], link: String = "") {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            put(String(repeating: "0", count: max(0, width - 1 - String(value, radix: 8).count)) + String(value, radix: 8), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(contents.count, at: 124, width: 12)
        octal(1_700_000_000, at: 136, width: 12)
        put(String(type), at: 156, width: 1)
        put(link, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("root", at: 265, width: 32)
        put("root", at: 297, width: 32)
        put("        ", at: 148, width: 8)
        let sum = header.reduce(0) { $0 + Int($1) }
        octal(sum, at: 148, width: 7)
        bytes += header + contents + [UInt8](repeating: 0, count: (512 - contents.count % 512) % 512)
    }
}
