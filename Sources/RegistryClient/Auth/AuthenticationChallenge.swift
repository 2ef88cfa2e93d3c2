/// One challenge of a `WWW-Authenticate` header (RFC 7235): a scheme and its parameters, such as
/// `Bearer realm="https://auth.example/token",service="registry.example"`.
public struct AuthenticationChallenge: Equatable, Sendable {
    /// The scheme, lower-cased (`bearer`, `basic`).
    public var scheme: String
    /// Parameters with lower-cased names and unquoted values.
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String] = [:]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// Reads every challenge of one header value. Malformed parts are skipped rather than
    /// failing the whole header, so one odd challenge does not hide a usable one.
    public static func parse(_ header: String) -> [AuthenticationChallenge] {
        var scanner = ChallengeScanner(Array(header.unicodeScalars))
        var challenges: [AuthenticationChallenge] = []
        while true {
            scanner.skip { $0 == " " || $0 == "\t" || $0 == "," }
            guard let scheme = scanner.token(), !scheme.isEmpty else { break }
            var challenge = AuthenticationChallenge(scheme: scheme.lowercased())
            // Parameters follow until a token that is not followed by "=" (the next scheme).
            while true {
                let mark = scanner.position
                scanner.skip { $0 == " " || $0 == "\t" || $0 == "," }
                guard let name = scanner.token(), !name.isEmpty else { break }
                scanner.skip { $0 == " " || $0 == "\t" }
                guard scanner.consume("=") else {
                    scanner.position = mark
                    break
                }
                scanner.skip { $0 == " " || $0 == "\t" }
                let value = scanner.peek == "\"" ? scanner.quoted() : (scanner.token() ?? "")
                challenge.parameters[name.lowercased()] = value
            }
            challenges.append(challenge)
        }
        return challenges
    }
}

/// A cursor over the characters of a header value.
private struct ChallengeScanner {
    let scalars: [Unicode.Scalar]
    var position = 0

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    mutating func skip(while predicate: (Unicode.Scalar) -> Bool) {
        while let c = peek, predicate(c) { position += 1 }
    }

    mutating func consume(_ c: Unicode.Scalar) -> Bool {
        guard peek == c else { return false }
        position += 1
        return true
    }

    /// An RFC 7230 token (plus `/`, which realms and base64 tokens68 carry).
    mutating func token() -> String? {
        let start = position
        skip { c in
            c.isASCII && c.value > 0x20 && !"\"(),:;<=>?@[\\]{}".unicodeScalars.contains(c)
        }
        return position > start ? String(String.UnicodeScalarView(scalars[start..<position])) : nil
    }

    /// A quoted string, with `\"` escapes undone.
    mutating func quoted() -> String {
        guard consume("\"") else { return "" }
        var value = String.UnicodeScalarView()
        while let c = peek {
            position += 1
            if c == "\"" { break }
            if c == "\\", let next = peek {
                position += 1
                value.append(next)
            } else {
                value.append(c)
            }
        }
        return String(value)
    }
}
