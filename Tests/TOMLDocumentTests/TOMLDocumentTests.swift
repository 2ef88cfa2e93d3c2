import Testing
@testable import TOMLDocument

@Suite struct TOMLDocumentTests {
    /// Texts toml++ 3.4.0 asserts on (or overflows its stack with) instead of reporting an
    /// error: each is a syntax error naming its line, and never reaches toml++.
    @Test(arguments: [
        "[[[1]]]", "[[[a]]]", "[[[]]", "[[=", "[=", "[\u{FFFD}b #= 2", "[", "[[", "[\n", "[ # c\n", "[.a]",
        "x = [}", "x = [,]", "x = [1,,2]", "x = {,}", "x = {a=1,}", "x = ", "x = +", "x = 1__0", "x = 01", "x = 1.", "x = .5",
        "x = \"a", "x = \"\"\"a", "x = '''a", "x = \"\\q\"", "x = \"\\uD800\"", "x = 1979-05-27T", "x = tru",
        String(repeating: "a.", count: 100) + "b = 1", "x = " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        "x = " + String(repeating: "{a=", count: 100) + "1" + String(repeating: "}", count: 100),
    ])
    func malformedTextIsASyntaxError(text: String) {
        #expect(throws: TOMLDocument.SyntaxError.self) { try TOMLSyntax.check(text) }
        #expect(throws: TOMLDocument.SyntaxError.self) { try TOMLDocument.table(parsing: text) }
    }

    /// Every form of TOML 1.0 passes the check and parses.
    @Test func wellFormedTextPasses() throws {
        let text = #"""
            # a comment with [= brackets
            [ "quoted ] key" . inner ]   # after a header
            list = [
              [1, 2],  # inside an array
              [],
              [ [ "x" ] ],
            ]
            basic = """
            [= not a header
            \"""
            [[= still not \
               joined"""
            literal = '''
            [=
            '''
            quotes = """a"""""
            'single' = 'x]'
            escapes = "\t\u00e9\U0001F600\\\""
            [[ tables ]]
            name = 'x]'
            numbers = [0, -1, +1_000, 0xdead_BEEF, 0o755, 0b1010, 1.5, -0.0, 1e10, 6.626e-34, inf, -nan]
            dates = [1979-05-27T07:32:00Z, 1979-05-27 07:32:00.999-07:00, 1979-05-27, 07:32:00, 1979-05-27t07:32:00]
            flags = { enabled = true, nested.deep = false, empty = {} }
            [ 'last' ]
            bare-key_1 = "é"
            """#
        try TOMLSyntax.check(text)
        let table = try TOMLDocument.table(parsing: text)
        let inner = table["quoted ] key"]?.table?["inner"]?.table
        #expect(inner?["list"]?.array?.count == 3)
        #expect(inner?["basic"]?.string == "[= not a header\n\"\"\"\n[[= still not joined")
        #expect(inner?["quotes"]?.string == "a\"\"")
        #expect(inner?["escapes"]?.string == "\t\u{e9}\u{1F600}\\\"")
        #expect(table["tables"]?.array?.count == 1)
        #expect(table["last"]?.table?["bare-key_1"]?.string == "é")
    }

    @Test func aByteOrderMarkMayOpenTheText() throws {
        let table = try TOMLDocument.table(parsing: "\u{FEFF}a = 1\n")
        #expect(table["a"]?.int == 1)
    }

    @Test func syntaxErrorsNameTheLine() {
        #expect { try TOMLDocument.table(parsing: "a = 1\nb = = 2\n") } throws: { error in
            (error as? TOMLDocument.SyntaxError)?.line == 2
        }
        #expect { try TOMLDocument.table(parsing: "a = 1\n\n[[=\n") } throws: { error in
            (error as? TOMLDocument.SyntaxError)?.line == 3
        }
        // What only toml++ sees (a key defined twice) is reported with its line too.
        #expect { try TOMLDocument.table(parsing: "a = 1\na = 2\n") } throws: { error in
            (error as? TOMLDocument.SyntaxError)?.line == 2
        }
    }
}
