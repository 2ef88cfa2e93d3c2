/// What `mbctl --experimental-dump-help` prints (swift-argument-parser's ToolInfo, version 0):
/// only the parts a manual page shows.
struct HelpDump: Decodable {
    var serializationVersion: Int
    var command: Command

    struct Command: Decodable {
        var commandName: String
        var superCommands: [String]?
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool?
        var subcommands: [Command]?
        var arguments: [Argument]?

        /// `mbctl machines pull`: the words that run it.
        var invocation: [String] { (superCommands ?? []) + [commandName] }
        /// `mbctl.machines.pull`: the page's name, as swift-argument-parser's generate-manual names it.
        var pageName: String { invocation.joined(separator: ".") }
        var isShown: Bool { shouldDisplay ?? true }
        var shownSubcommands: [Command] { (subcommands ?? []).filter { $0.isShown && $0.commandName != "help" } }
    }

    struct Argument: Decodable {
        enum Kind: String, Decodable {
            case positional, option, flag
        }

        struct Name: Decodable {
            var kind: String
            var name: String

            /// `--root`, `-h` (and `-name` for a long name with a single dash).
            var spelled: String { (kind == "long" ? "--" : "-") + name }
        }

        var kind: Kind
        var shouldDisplay: Bool?
        var isOptional: Bool
        var isRepeating: Bool
        var names: [Name]?
        var valueName: String?
        var defaultValue: String?
        var abstract: String?
        var discussion: String?

        var isShown: Bool { shouldDisplay ?? true }
    }
}
