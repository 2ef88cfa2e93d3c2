import TOMLKit

/// TOML text read with TOMLKit (toml++ underneath), for mbctl's configuration file and
/// registries.conf: checked first by ``TOMLSyntax``, so toml++ only parses well-formed text
/// (see there why).
public enum TOMLDocument {
    /// A TOML text that does not parse: the 1-based line and what is wrong there.
    public struct SyntaxError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// The document's root table.
    public static func table(parsing text: String) throws(SyntaxError) -> TOMLTable {
        try TOMLSyntax.check(text)
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw SyntaxError(line: error.source.begin.line, reason: error.description)
        } catch {
            throw SyntaxError(line: 1, reason: "\(error)")
        }
    }

    /// The document's root table, and the line where each of its table headers and keys
    /// (outside inline tables) first appears, by path: for errors that name a line.
    public static func tableWithLines(parsing text: String) throws(SyntaxError) -> (TOMLTable, keyLines: [[String]: Int]) {
        let lines = try TOMLSyntax.check(text)
        do {
            return (try TOMLTable(string: text), lines)
        } catch let error as TOMLParseError {
            throw SyntaxError(line: error.source.begin.line, reason: error.description)
        } catch {
            throw SyntaxError(line: 1, reason: "\(error)")
        }
    }

    /// The document decoded as `type`; a text that does not parse throws ``SyntaxError``,
    /// one that parses but does not fit `type` throws the decoder's error.
    public static func decode<Value: Decodable>(_ type: Value.Type, parsing text: String) throws -> Value {
        let table = try table(parsing: text)
        return try TOMLDecoder().decode(type, from: table)
    }
}
