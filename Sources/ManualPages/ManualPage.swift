/// One manual page (man(7)) for one command of the help dump.
struct ManualPage {
    let command: HelpDump.Command
    let version: String
    let date: String

    var fileName: String { "\(command.pageName).1" }

    var text: String {
        var lines = [
            ".TH \"\(command.pageName.uppercased())\" 1 \"\(date)\" \"mbctl \(version)\" \"mbctl manual\"",
            ".SH NAME",
            "\(Roff.escaped(command.pageName)) \\- \(Roff.escaped(command.abstract ?? command.commandName))",
            ".SH SYNOPSIS",
            synopsis,
        ]
        lines += [".SH DESCRIPTION"] + Roff.paragraphs(command.abstract ?? "")
        if let discussion = command.discussion, !discussion.isEmpty {
            lines += [".PP"] + Roff.paragraphs(discussion)
        }
        let subcommands = command.shownSubcommands
        if !subcommands.isEmpty {
            lines.append(".SH COMMANDS")
            for subcommand in subcommands {
                lines += [".TP", Roff.bold(subcommand.commandName), Roff.escaped(subcommand.abstract ?? ""), "See \(reference(subcommand))."]
            }
        }
        let options = (command.arguments ?? []).filter { $0.isShown }
        if !options.isEmpty {
            lines.append(".SH OPTIONS")
            for argument in options {
                lines += [".TP", term(argument)] + Roff.paragraphs(description(argument))
            }
        }
        let related =
            (command.superCommands ?? []).indices.map { index in
                (command.superCommands ?? []).prefix(index + 1).joined(separator: ".")
            } + subcommands.map(\.pageName)
        if !related.isEmpty {
            lines += [".SH \"SEE ALSO\"", related.map { ".BR \($0) (1)" }.joined(separator: ",\n")]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `\fBmbctl machines pull\fR [\fIoptions\fR] \fIsrc\fR \fIname\fR`.
    private var synopsis: String {
        var words = [Roff.bold(command.invocation.joined(separator: " "))]
        if !command.shownSubcommands.isEmpty { words.append(Roff.italic("command")) }
        let arguments = (command.arguments ?? []).filter { $0.isShown }
        if arguments.contains(where: { $0.kind != .positional }) { words.append("[\(Roff.italic("options"))]") }
        for argument in arguments where argument.kind == .positional {
            var word = Roff.italic(argument.valueName ?? "value")
            if argument.isRepeating { word += " ..." }
            words.append(argument.isOptional ? "[\(word)]" : word)
        }
        return words.joined(separator: " ")
    }

    /// `\fB--volume\fR \fI/path=...\fR`, or the positional argument's name.
    private func term(_ argument: HelpDump.Argument) -> String {
        guard argument.kind != .positional else { return Roff.italic(argument.valueName ?? "value") }
        let names = (argument.names ?? []).map { Roff.bold($0.spelled) }.joined(separator: ", ")
        guard argument.kind == .option else { return names }
        return names + " " + Roff.italic(argument.valueName ?? "value")
    }

    private func description(_ argument: HelpDump.Argument) -> String {
        var text = argument.abstract ?? ""
        if let discussion = argument.discussion, !discussion.isEmpty { text += "\n\n" + discussion }
        if let value = argument.defaultValue, !value.isEmpty { text += " (default: \(value))" }
        return text
    }

    private func reference(_ command: HelpDump.Command) -> String {
        "\(Roff.bold(command.pageName))(1)"
    }

    /// This page and the pages of every command below it that is shown.
    static func pages(for command: HelpDump.Command, version: String, date: String) -> [ManualPage] {
        guard command.isShown else { return [] }
        return [ManualPage(command: command, version: version, date: date)]
            + command.shownSubcommands.flatMap { pages(for: $0, version: version, date: date) }
    }
}
