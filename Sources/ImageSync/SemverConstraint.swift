import Version

/// `images-by-semver` of skopeo sync's YAML: a constraint in the syntax skopeo takes
/// (Masterminds/semver, the npm-like one): alternatives separated by `||`, each a list of
/// comparisons separated by commas or spaces, all of which must hold. A comparison is an
/// operator (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~` (same minor), `^` (same major, or minor below
/// 1.0)) and a version that may stop early or end in a wildcard (`1`, `1.2`, `1.2.x`, `*`): `=1.2`
/// is any 1.2.z, `>1.2` is above every 1.2.z, `<=1` is at most any 1.y.z. `A - B` is a range.
/// Versions are read as skopeo reads tags (`v1.2.3`, `1.2`). A version with a prerelease part
/// (`1.3.0-rc1`) matches only a comparison whose own version has one.
public struct SemverConstraint: Sendable, CustomStringConvertible {
    public let description: String
    private let alternatives: [[Comparison]]

    struct Comparison: Sendable {
        enum Operator: String, Sendable {
            case equal = "=", notEqual = "!=", greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<=", tilde = "~", caret = "^"
        }
        var op: Operator
        /// The version's numbers as given (1 to 3; a wildcard ends them).
        var numbers: [Int]
        var prerelease: [String]

        /// The versions this comparison's version stands for: `[lower, upper)`.
        var lower: Version {
            Version(numbers.first ?? 0, numbers.count > 1 ? numbers[1] : 0, numbers.count > 2 ? numbers[2] : 0, pre: prerelease)
        }
        var upper: Version {
            switch numbers.count {
            case 0: return Version(Int.max, 0, 0)
            case 1: return Version(numbers[0] + 1, 0, 0)
            case 2: return Version(numbers[0], numbers[1] + 1, 0)
            default: return Version(numbers[0], numbers[1], numbers[2] + 1)
            }
        }

        func matches(_ version: Version) -> Bool {
            if !version.prereleaseIdentifiers.isEmpty, prerelease.isEmpty { return false }
            let bare = Version(version.major, version.minor, version.patch, pre: version.prereleaseIdentifiers)
            let exact = numbers.count == 3
            switch op {
            case .equal: return exact ? bare == lower : lower <= bare && bare < upper
            case .notEqual: return !(exact ? bare == lower : lower <= bare && bare < upper)
            case .greater: return exact ? bare > lower : bare >= upper
            case .greaterOrEqual: return bare >= lower
            case .less: return bare < lower
            case .lessOrEqual: return exact ? bare <= lower : bare < upper
            case .tilde:
                // ~1.2.3 and ~1.2: >= it, < 1.3; ~1: < 2.
                let ceiling = numbers.count >= 2 ? Version(numbers[0], numbers[1] + 1, 0) : upper
                return bare >= lower && bare < ceiling
            case .caret:
                // ^1.2.3: < 2; ^0.2.3: < 0.3; ^0.0.3: < 0.0.4; ^0: < 1.
                let major = numbers.first ?? 0, minor = numbers.count > 1 ? numbers[1] : 0
                let ceiling =
                    major > 0 || numbers.count < 2
                    ? Version(major + 1, 0, 0) : minor > 0 || numbers.count < 3 ? Version(0, minor + 1, 0) : Version(0, 0, numbers[2] + 1)
                return bare >= lower && bare < ceiling
            }
        }
    }

    public init(parsing text: String) throws {
        description = text
        func fail(_ reason: String) -> SyncError { .invalidList(line: 0, reason: "semver constraint \"\(text)\": \(reason)") }
        guard text.count <= 1024 else { throw fail("it is longer than 1024 characters") }
        var alternatives: [[Comparison]] = []
        for alternative in text.components(separatedBy: "||") {
            var words = alternative.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
            guard !words.isEmpty else { throw fail("an alternative is empty") }
            var comparisons: [Comparison] = []
            // `A - B`: at least A, at most B.
            while let dash = words.firstIndex(of: "-") {
                guard dash > 0, dash + 1 < words.count else { throw fail("a range is A - B") }
                comparisons.append(try Self.comparison(">=" + words[dash - 1], fail: fail))
                comparisons.append(try Self.comparison("<=" + words[dash + 1], fail: fail))
                words.removeSubrange((dash - 1)...(dash + 1))
            }
            // An operator written apart from its version: `>= 1.2`.
            var index = 0
            while index < words.count {
                var word = words[index]
                if word.allSatisfy({ "=!<>~^".contains($0) }) {
                    guard index + 1 < words.count else { throw fail("\(word) has no version") }
                    index += 1
                    word += words[index]
                }
                comparisons.append(try Self.comparison(word, fail: fail))
                index += 1
            }
            alternatives.append(comparisons)
        }
        self.alternatives = alternatives
    }

    private static func comparison(_ word: String, fail: (String) -> SyncError) throws -> Comparison {
        let operators: [(String, Comparison.Operator)] = [
            (">=", .greaterOrEqual), ("=>", .greaterOrEqual), ("<=", .lessOrEqual), ("=<", .lessOrEqual), ("!=", .notEqual), ("~>", .tilde),
            (">", .greater), ("<", .less), ("=", .equal), ("~", .tilde), ("^", .caret),
        ]
        var op = Comparison.Operator.equal, rest = Substring(word)
        if let (prefix, found) = operators.first(where: { word.hasPrefix($0.0) }) {
            op = found
            rest = rest.dropFirst(prefix.count)
        }
        if rest.first == "v" || rest.first == "V" { rest = rest.dropFirst() }
        let (core, prerelease) = rest.firstIndex(of: "-").map { (rest[..<$0], String(rest[rest.index(after: $0)...])) } ?? (rest, "")
        var numbers: [Int] = []
        for part in core.split(separator: ".", omittingEmptySubsequences: false) {
            if ["x", "X", "*"].contains(part) { break }
            guard !part.isEmpty, part.count <= 9, part.allSatisfy(\.isNumber), let number = Int(part) else { throw fail("\"\(word)\" is not a version") }
            numbers.append(number)
        }
        guard numbers.count <= 3, !(numbers.count < 3 && !prerelease.isEmpty) else { throw fail("\"\(word)\" is not a version") }
        return Comparison(op: op, numbers: numbers, prerelease: prerelease.isEmpty ? [] : prerelease.split(separator: ".").map(String.init))
    }

    /// Whether `tag`, read as a version, satisfies the constraint (a tag that is no version
    /// does not).
    public func matches(tag: String) -> Bool {
        guard let version = Self.version(of: tag) else { return false }
        return alternatives.contains { $0.allSatisfy { $0.matches(version) } }
    }

    /// A tag as a version: `1.2.3`, `v1.2.3`, `1.2`, `1`, with `-prerelease` and `+build`.
    static func version(of tag: String) -> Version? {
        var text = Substring(tag)
        if text.first == "v" || text.first == "V" { text = text.dropFirst() }
        guard let first = text.first, first.isNumber else { return nil }
        return Version(tolerant: text)
    }
}
