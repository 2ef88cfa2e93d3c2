/// POSIX `sh` quoting, exactly as Python's `shlex.quote` does it (the Python mbctl wrote
/// `MAN8S_APPLICATION_ARGS` with it, and existing machines must read the same).
public enum ShellQuoting {
    /// A word as `sh` reads it back: bare when it holds only `[A-Za-z0-9_@%+=:,./-]` (and is not
    /// empty), else in single quotes with each `'` written as `'"'"'`.
    public static func quote(_ word: String) -> String {
        if word.isEmpty { return "''" }
        let safe = word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_@%+=:,./-".unicodeScalars.contains(scalar))
        }
        if safe { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
    }

    /// Words quoted and joined by spaces.
    public static func join(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}
