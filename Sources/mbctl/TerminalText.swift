import Foundation

/// Text from outside mbctl (what a machine wrote, what an image or a registry sent) made safe to
/// print: every control character (C0, DEL, C1) and every Unicode direction override becomes a
/// visible escape, so that no such text can move the cursor, retitle the window, recolour or
/// rewrite what the operator sees, or fake a line of its own.
enum TerminalText {
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: result += "\\n"
            case 0x0D: result += "\\r"
            case 0x09: result += "\\t"
            case 0x1B: result += "\\e"
            case 0x00..<0x20, 0x7F: result += "\\x" + hex(scalar.value, width: 2)
            case _ where isControl(scalar): result += "\\u{" + hex(scalar.value, width: 4) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// C0 and C1 control characters, DEL, and the Unicode marks that reorder text on screen.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x7F..<0xA0, 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: return true
        default: return false
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

extension String {
    /// This text with control characters escaped (``TerminalText``).
    var escaped: String { TerminalText.escaped(self) }
}

/// An error whose message is printed with control characters escaped: every message may carry
/// text from a machine, an image or a registry.
struct EscapedError: Error, CustomStringConvertible {
    let underlying: Error

    var description: String { String(describing: underlying).escaped }
}

/// Prints one line to standard output with control characters escaped (``TerminalText``).
func say(_ line: String) {
    print(line.escaped)
}

/// Writes one line to standard error with control characters escaped (``TerminalText``).
func warn(_ line: String) {
    FileHandle.standardError.write(Data((line.escaped + "\n").utf8))
}

/// Prints a table row: its fields separated by tabs, each with control characters escaped.
func printRow(_ fields: [String]) {
    print(fields.map(\.escaped).joined(separator: "\t"))
}
