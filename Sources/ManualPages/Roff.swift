/// Text made safe for roff (man(7)): nothing in it is read as a request or an escape.
enum Roff {
    /// `text` inside a line: backslashes escaped, hyphens as hyphens (so options stay
    /// copyable), and a leading `.` or `'` kept from being read as a request.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\e"
            case "-": result += "\\-"
            default: result.append(character)
            }
        }
        if result.hasPrefix(".") || result.hasPrefix("'") { result = "\\&" + result }
        return result
    }

    /// `text` in bold.
    static func bold(_ text: String) -> String { "\\fB\(escaped(text))\\fR" }

    /// `text` in italics.
    static func italic(_ text: String) -> String { "\\fI\(escaped(text))\\fR" }

    /// Help text as paragraphs: a blank line starts a new paragraph, and a run of lines
    /// indented by two spaces (the examples) is shown as written, never refilled.
    static func paragraphs(_ text: String) -> [String] {
        var lines: [String] = []
        var literal = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  ") {
                if !literal { lines += [".PP", ".RS 4", ".nf"] }
                literal = true
                lines.append(escaped(String(line.dropFirst(2))))
                continue
            }
            if literal { lines += [".fi", ".RE"] }
            literal = false
            lines.append(line.isEmpty ? ".PP" : escaped(String(line)))
        }
        if literal { lines += [".fi", ".RE"] }
        return lines
    }
}
