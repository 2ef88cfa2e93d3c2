import ConfinedFilesystem
import Foundation
import SystemErrors

/// How the unit's drop-in runs mbctl: this executable, with the configuration file the machine
/// was made with, so that the boot-time repair finds the machine where the operator keeps it.
public struct RecoveryCommand: Sendable, Equatable {
    public var executable: String
    /// `--config FILE`, when the machine was made with one other than the default.
    public var configurationFile: String?

    public init(executable: String, configurationFile: String?) {
        self.executable = executable
        self.configurationFile = configurationFile
    }

    /// The command line for `machines recover NAME`, quoted for a unit file.
    func commandLine(_ name: MachineName) throws -> String {
        var words = [executable, "machines", "recover", name.value]
        if let configurationFile { words += ["--config", configurationFile] }
        return try words.map(Self.quoted).joined(separator: " ")
    }

    /// This mbctl with `arguments`, a unit specifier (`%i`: the instance, left for systemd to
    /// fill in), then `then`, quoted for a unit file.
    func commandLine(arguments: [String], instance specifier: String, then: [String]) throws -> String {
        var words = try ([executable] + arguments).map(Self.quoted) + [specifier] + (try then.map(Self.quoted))
        if let configurationFile { words += ["--config", try Self.quoted(configurationFile)] }
        return words.joined(separator: " ")
    }

    /// `word` as one argument of a unit file's command line: as it is when it holds nothing
    /// special, else in double quotes, with `\` and `"` escaped and systemd's `%` specifiers and
    /// `$` variables kept literal.
    static func quoted(_ word: String) throws -> String {
        let plain = word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "_@+=:,./-".unicodeScalars.contains(scalar))
        }
        if plain && !word.isEmpty { return word }
        guard word.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw Man8SError.unrepresentable(what: "\"\(word)\" into a systemd unit", reason: "it holds a control character")
        }
        var quoted = "\""
        for character in word {
            switch character {
            case "\\": quoted += "\\\\"
            case "\"": quoted += "\\\""
            case "%": quoted += "%%"
            case "$": quoted += "$$"
            default: quoted.append(character)
            }
        }
        return quoted + "\""
    }
}
