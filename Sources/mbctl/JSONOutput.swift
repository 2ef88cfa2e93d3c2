import Foundation

/// `--json` output: pretty, keys sorted (stable for scripts and diffs), dates in ISO 8601.
/// JSON escapes C0 control characters itself; the C1 ones and direction overrides, which JSON
/// allows raw but a terminal may obey, are written as `\uXXXX` too (the same string to a parser).
func printJSON<Value: Encodable>(_ value: Value) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    var text = ""
    for scalar in String(decoding: try encoder.encode(value), as: UTF8.self).unicodeScalars {
        if TerminalText.isControl(scalar) && scalar.value >= 0x80 {
            let digits = String(scalar.value, radix: 16)
            text += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
        } else {
            text.unicodeScalars.append(scalar)
        }
    }
    print(text)
}
