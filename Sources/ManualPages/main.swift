// mbctl-manual: writes mbctl's manual pages, one per command, from the help that
// `mbctl --experimental-dump-help` prints (read on standard input), into a directory:
//
//   build/mbctl --experimental-dump-help | mbctl-manual VERSION DATE build/man
//
// It starts no process of its own (swift-argument-parser's generate-manual runs the tool
// through Foundation's Process, whose run loop needs a socket pair that a network namespace
// without loopback may not give, and then hangs), so it works as nobody with no network.
import Foundation

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: mbctl --experimental-dump-help | mbctl-manual VERSION YYYY-MM-DD DIRECTORY\n".utf8))
    exit(2)
}
let (version, date, directory) = (arguments[arguments.startIndex], arguments[arguments.startIndex + 1], arguments[arguments.startIndex + 2])

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("mbctl-manual: \(message)\n".utf8))
    exit(1)
}

let input = FileHandle.standardInput.readDataToEndOfFile()
let dump: HelpDump
do {
    dump = try JSONDecoder().decode(HelpDump.self, from: input)
} catch {
    fail("standard input is not mbctl's --experimental-dump-help: \(error)")
}
guard dump.serializationVersion == 0 else { fail("help dump version \(dump.serializationVersion) is not 0, the one this tool reads") }

for page in ManualPage.pages(for: dump.command, version: version, date: date) {
    let path = "\(directory)/\(page.fileName)"
    guard FileManager.default.createFile(atPath: path, contents: Data(page.text.utf8)) else { fail("cannot write \(path)") }
}
