/// A strict check of TOML 1.0 syntax, run before toml++ sees a text.
///
/// toml++ 3.4.0 (the version TOMLKit bundles) checks many of its own preconditions with
/// assertions rather than errors: text it does not expect at the start of a key, a value or an
/// array element (`[[[1]]]`, `x = [}`) aborts the process, or is undefined behaviour where
/// assertions are compiled out; dotted keys deep enough overflow its stack. Upstream fixes some
/// of these after that release (marzer/tomlplusplus#242, #301) but not all, so mbctl does not
/// rely on them: a text reaches toml++ only once this check has found it well-formed, token by
/// token, with nesting bounded.
///
/// The grammar is TOML 1.0's (toml.io/en/v1.0.0), with two limits of mbctl's own: keys and
/// values nest at most ``maximumDepth`` deep. What the grammar cannot see (a key defined
/// twice, a date out of range, an integer that overflows) is left to toml++, which reports it.
struct TOMLSyntax {
    /// Dotted-key segments, arrays and inline tables, each counted: far beyond any real
    /// configuration, far below what exhausts a stack.
    static let maximumDepth = 64

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    /// The table the key-value lines being read go into (its header's key).
    private var table: [String] = []
    /// The line where each table header and each key outside inline tables first appears, by
    /// its full path (quoted keys as written between their quotes).
    private(set) var keyLines: [[String]: Int] = [:]

    init(_ text: String) { bytes = Array(text.utf8) }

    /// Throws the first syntax error of the text; returns the lines of its keys.
    @discardableResult
    static func check(_ text: String) throws(TOMLDocument.SyntaxError) -> [[String]: Int] {
        var syntax = TOMLSyntax(text)
        try syntax.document()
        return syntax.keyLines
    }

    // MARK: Structure

    private mutating func document() throws(TOMLDocument.SyntaxError) {
        // A UTF-8 byte order mark may open the text (toml++ skips it too).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { advance(3) }
        while !atEnd {
            skipBlanks()
            guard let byte = peek() else { return }
            switch byte {
            case newlineStart, carriageReturn:
                try newline()
                continue
            case hash:
                try comment()
            case openBracket:
                try tableHeader()
            default:
                try keyValue(depth: 0)
            }
            skipBlanks()
            if peek() == hash { try comment() }
            guard atEnd || peek() == newlineStart || peek() == carriageReturn else { throw error("expected the end of the line, found \(describeNext())") }
        }
    }

    private mutating func tableHeader() throws(TOMLDocument.SyntaxError) {
        advance()  // [
        let isArray = peek() == openBracket
        if isArray { advance() }
        skipBlanks()
        let headerLine = line
        table = try key(depth: 0)
        if keyLines[table] == nil { keyLines[table] = headerLine }
        skipBlanks()
        try expect(closeBracket, "']' to close the table header")
        if isArray { try expect(closeBracket, "']]' to close the array-of-tables header") }
    }

    private mutating func keyValue(depth: Int) throws(TOMLDocument.SyntaxError) {
        let keyLine = line
        let path = try key(depth: depth)
        if depth == 0, keyLines[table + path] == nil { keyLines[table + path] = keyLine }
        skipBlanks()
        try expect(equals, "'=' after the key")
        skipBlanks()
        try value(depth: depth + 1)
    }

    /// A simple or dotted key; its segments (a quoted one as written between its quotes).
    @discardableResult
    private mutating func key(depth: Int) throws(TOMLDocument.SyntaxError) -> [String] {
        var segments: [String] = []
        while true {
            guard depth + segments.count < Self.maximumDepth else { throw error("keys nest deeper than \(Self.maximumDepth)") }
            let start = index
            switch peek() {
            case quote, apostrophe:
                try string(multiLineAllowed: false)
                segments.append(String(decoding: bytes[(start + 1)..<max(start + 1, index - 1)], as: UTF8.self))
            case let byte? where isBareKeyByte(byte):
                while let next = peek(), isBareKeyByte(next) { advance() }
                segments.append(String(decoding: bytes[start..<index], as: UTF8.self))
            default:
                throw error("expected a key (letters, digits, '_', '-' or a quoted string), found \(describeNext())")
            }
            skipBlanks()
            guard peek() == dot else { return segments }
            advance()
            skipBlanks()
        }
    }

    private mutating func value(depth: Int) throws(TOMLDocument.SyntaxError) {
        guard depth <= Self.maximumDepth else { throw error("values nest deeper than \(Self.maximumDepth)") }
        switch peek() {
        case quote, apostrophe: try string(multiLineAllowed: true)
        case openBracket: try array(depth: depth)
        case openBrace: try inlineTable(depth: depth)
        case nil: throw error("expected a value, found the end of the text")
        default: try scalar()
        }
    }

    private mutating func array(depth: Int) throws(TOMLDocument.SyntaxError) {
        advance()  // [
        while true {
            try skipBlanksCommentsAndNewlines()
            if peek() == closeBracket { advance(); return }
            try value(depth: depth + 1)
            try skipBlanksCommentsAndNewlines()
            switch peek() {
            case comma: advance()
            case closeBracket: advance(); return
            default: throw error("expected ',' or ']' in the array, found \(describeNext())")
            }
        }
    }

    /// `{ a = 1, b.c = 2 }`: on one line, no trailing comma (TOML 1.0).
    private mutating func inlineTable(depth: Int) throws(TOMLDocument.SyntaxError) {
        advance()  // {
        skipBlanks()
        if peek() == closeBrace { advance(); return }
        while true {
            try keyValue(depth: depth)
            skipBlanks()
            switch peek() {
            case comma:
                advance()
                skipBlanks()
            case closeBrace:
                advance()
                return
            default:
                throw error("expected ',' or '}' in the inline table, found \(describeNext())")
            }
        }
    }

    // MARK: Strings

    /// A basic (`"`, with escapes) or literal (`'`) string, single- or multi-line.
    private mutating func string(multiLineAllowed: Bool) throws(TOMLDocument.SyntaxError) {
        guard let delimiter = peek() else { return }
        let escapes = delimiter == quote
        let multiLine = startsWith(delimiter, count: 3)
        if multiLine {
            guard multiLineAllowed else { throw error("a key cannot be a multi-line string") }
            advance(3)
            if peek() == carriageReturn || peek() == newlineStart { try newline() }
        } else {
            advance()
        }
        while true {
            guard let byte = peek() else { throw error("the string does not end") }
            if byte == delimiter {
                if !multiLine { advance(); return }
                if startsWith(delimiter, count: 3) {
                    advance(3)
                    // Up to two more delimiters are content: `"""a"""""`.
                    var extra = 0
                    while extra < 2, peek() == delimiter { advance(); extra += 1 }
                    return
                }
                advance()
            } else if escapes, byte == backslash {
                advance()
                try escape(multiLine: multiLine)
            } else if multiLine, byte == newlineStart || byte == carriageReturn {
                try newline()
            } else {
                try stringByte(byte)
            }
        }
    }

    private mutating func escape(multiLine: Bool) throws(TOMLDocument.SyntaxError) {
        guard let byte = peek() else { throw error("the string does not end") }
        switch byte {
        case UInt8(ascii: "b"), UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "f"), UInt8(ascii: "r"), quote, backslash:
            advance()
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            advance()
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            var scalar: UInt32 = 0
            for _ in 0..<count {
                guard let digit = peek(), let value = hexValue(digit) else {
                    throw error("\\\(Character(UnicodeScalar(byte))) needs \(count) hexadecimal digits")
                }
                scalar = scalar << 4 | UInt32(value)
                advance()
            }
            guard Unicode.Scalar(scalar) != nil else { throw error("\\\(Character(UnicodeScalar(byte))) names no Unicode scalar value") }
        case space, tab, carriageReturn, newlineStart:
            // A line-ending backslash (multi-line strings only): blanks, at least one newline,
            // then all whitespace.
            guard multiLine else { throw error("unknown escape \\\(describeNext())") }
            skipBlanks()
            guard peek() == newlineStart || peek() == carriageReturn else { throw error("a backslash followed by blanks must end the line") }
            while let next = peek(), next == space || next == tab || next == newlineStart || next == carriageReturn {
                if next == space || next == tab { advance() } else { try newline() }
            }
        default:
            throw error("unknown escape \\\(describeNext())")
        }
    }

    /// A byte of string content: no control characters but tab.
    private mutating func stringByte(_ byte: UInt8) throws(TOMLDocument.SyntaxError) {
        guard byte == tab || (byte >= 0x20 && byte != 0x7F) else {
            throw error(byte == newlineStart || byte == carriageReturn ? "the string does not end on its line" : "a control character in a string")
        }
        advance()
    }

    // MARK: Numbers, booleans, dates and times

    /// A bare value: its characters up to a delimiter, then matched against the forms TOML has.
    private mutating func scalar() throws(TOMLDocument.SyntaxError) {
        let start = index
        while let byte = peek(), isScalarByte(byte) { advance() }
        // A date and a time may be separated by one space: `1979-05-27 07:32:00`.
        if peek() == space, index + 1 < bytes.count, isDigit(bytes[index + 1]),
            Self.isDate(bytes[start..<index])
        {
            advance()
            while let byte = peek(), isScalarByte(byte) { advance() }
        }
        let token = bytes[start..<index]
        guard !token.isEmpty else { throw error("expected a value, found \(describeNext()) (strings are written in quotes)") }
        guard Self.isScalar(token) else {
            throw error("'\(String(decoding: token.prefix(40), as: UTF8.self))' is not a TOML value (strings are written in quotes)")
        }
    }

    static func isScalar(_ token: ArraySlice<UInt8>) -> Bool {
        let text = String(decoding: token, as: UTF8.self)
        if ["true", "false", "inf", "+inf", "-inf", "nan", "+nan", "-nan"].contains(text) { return true }
        return isInteger(token) || isFloat(token) || isDateTime(token)
    }

    /// Digits of `digit`'s kind, with single underscores between them.
    private static func isDigitRun(_ token: ArraySlice<UInt8>, _ digit: (UInt8) -> Bool) -> Bool {
        guard let first = token.first, let last = token.last, digit(first), digit(last) else { return false }
        var previousUnderscore = false
        for byte in token {
            if byte == UInt8(ascii: "_") {
                if previousUnderscore { return false }
                previousUnderscore = true
            } else if digit(byte) {
                previousUnderscore = false
            } else {
                return false
            }
        }
        return true
    }

    private static func isDecimalInteger(_ token: ArraySlice<UInt8>) -> Bool {
        var digits = token
        if let sign = digits.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { digits = digits.dropFirst() }
        // No leading zeros.
        if digits.count > 1, digits.first == UInt8(ascii: "0") { return false }
        return isDigitRun(digits, isDigit)
    }

    static func isInteger(_ token: ArraySlice<UInt8>) -> Bool {
        if token.count > 2, token.first == UInt8(ascii: "0") {
            let digits = token.dropFirst(2)
            switch token[token.startIndex + 1] {
            case UInt8(ascii: "x"): return isDigitRun(digits) { hexValue($0) != nil }
            case UInt8(ascii: "o"): return isDigitRun(digits) { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }
            case UInt8(ascii: "b"): return isDigitRun(digits) { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") }
            default: break
            }
        }
        return isDecimalInteger(token)
    }

    static func isFloat(_ token: ArraySlice<UInt8>) -> Bool {
        var mantissa = token
        var exponent: ArraySlice<UInt8>?
        if let e = token.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            mantissa = token[token.startIndex..<e]
            var digits = token[(e + 1)...]
            if let sign = digits.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { digits = digits.dropFirst() }
            exponent = digits
        }
        if let exponent, !isDigitRun(exponent, isDigit) { return false }
        if let dot = mantissa.firstIndex(of: UInt8(ascii: ".")) {
            return isDecimalInteger(mantissa[mantissa.startIndex..<dot]) && isDigitRun(mantissa[(dot + 1)...], isDigit)
        }
        return exponent != nil && isDecimalInteger(mantissa)
    }

    /// `YYYY-MM-DD`.
    static func isDate(_ token: ArraySlice<UInt8>) -> Bool {
        let form = Array("dddd-dd-dd".utf8)
        return token.count == form.count
            && zip(token, form).allSatisfy { byte, pattern in
                pattern == UInt8(ascii: "d") ? isDigit(byte) : byte == pattern
            }
    }

    /// `HH:MM:SS` with optional fraction.
    static func isTime(_ token: ArraySlice<UInt8>) -> Bool {
        let form = Array("dd:dd:dd".utf8)
        guard token.count >= form.count else { return false }
        let head = token.prefix(form.count)
        guard zip(head, form).allSatisfy({ byte, pattern in pattern == UInt8(ascii: "d") ? isDigit(byte) : byte == pattern }) else { return false }
        let rest = token.dropFirst(form.count)
        if rest.isEmpty { return true }
        return rest.first == UInt8(ascii: ".") && rest.count > 1 && rest.dropFirst().allSatisfy(isDigit)
    }

    /// A local date, a local time, or a date and time with an optional offset.
    static func isDateTime(_ token: ArraySlice<UInt8>) -> Bool {
        if isDate(token) || isTime(token) { return true }
        guard token.count > 11, isDate(token.prefix(10)) else { return false }
        let separator = token[token.startIndex + 10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " ") else { return false }
        var time = token.dropFirst(11)
        if let last = time.last, last == UInt8(ascii: "Z") || last == UInt8(ascii: "z") {
            time = time.dropLast()
        } else if time.count > 6 {
            let offset = time.suffix(6)
            let form = Array("+dd:dd".utf8)
            let isOffset = zip(offset, form).allSatisfy { byte, pattern in
                switch pattern {
                case UInt8(ascii: "d"): return isDigit(byte)
                case UInt8(ascii: "+"): return byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                default: return byte == pattern
                }
            }
            if isOffset { time = time.dropLast(6) }
        }
        return isTime(time)
    }

    // MARK: Bytes

    private var atEnd: Bool { index >= bytes.count }
    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
    private mutating func advance(_ count: Int = 1) { index = min(index + count, bytes.count) }

    private func startsWith(_ byte: UInt8, count: Int) -> Bool {
        index + count <= bytes.count && bytes[index..<index + count].allSatisfy { $0 == byte }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(TOMLDocument.SyntaxError) {
        guard peek() == byte else { throw error("expected \(what), found \(describeNext())") }
        advance()
    }

    private mutating func skipBlanks() {
        while let byte = peek(), byte == space || byte == tab { advance() }
    }

    /// `\n` or `\r\n`.
    private mutating func newline() throws(TOMLDocument.SyntaxError) {
        if peek() == carriageReturn {
            advance()
            guard peek() == newlineStart else { throw error("a carriage return not followed by a line feed") }
        }
        advance()
        line += 1
    }

    private mutating func comment() throws(TOMLDocument.SyntaxError) {
        advance()  // #
        while let byte = peek(), byte != newlineStart {
            if byte == carriageReturn, index + 1 < bytes.count, bytes[index + 1] == newlineStart { return }
            guard byte == tab || (byte >= 0x20 && byte != 0x7F) else { throw error("a control character in a comment") }
            advance()
        }
    }

    private mutating func skipBlanksCommentsAndNewlines() throws(TOMLDocument.SyntaxError) {
        while let byte = peek() {
            switch byte {
            case space, tab: advance()
            case hash: try comment()
            case newlineStart, carriageReturn: try newline()
            default: return
            }
        }
    }

    private func describeNext() -> String {
        guard let byte = peek() else { return "the end of the text" }
        switch byte {
        case newlineStart, carriageReturn: return "the end of the line"
        case 0x21..<0x7F: return "'\(Character(UnicodeScalar(byte)))'"
        default: return "byte 0x\(String(byte, radix: 16))"
        }
    }

    private func error(_ reason: String) -> TOMLDocument.SyntaxError {
        TOMLDocument.SyntaxError(line: line, reason: reason)
    }

    private func isBareKeyByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// What numbers, booleans, dates and times are made of.
    private func isScalarByte(_ byte: UInt8) -> Bool {
        isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == dot || byte == UInt8(ascii: ":")
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

private let newlineStart = UInt8(ascii: "\n")
private let carriageReturn = UInt8(ascii: "\r")
private let space = UInt8(ascii: " ")
private let tab = UInt8(ascii: "\t")
private let hash = UInt8(ascii: "#")
private let quote = UInt8(ascii: "\"")
private let apostrophe = UInt8(ascii: "'")
private let backslash = UInt8(ascii: "\\")
private let openBracket = UInt8(ascii: "[")
private let closeBracket = UInt8(ascii: "]")
private let openBrace = UInt8(ascii: "{")
private let closeBrace = UInt8(ascii: "}")
private let equals = UInt8(ascii: "=")
private let comma = UInt8(ascii: ",")
private let dot = UInt8(ascii: ".")
