import ArgumentParser
import Foundation
import LayerUnpacker

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Manage the image cache.",
        subcommands: [Clear.self]
    )

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Empty the image cache (blobs, partial downloads, tags).")

        @OptionGroup var host: HostOptions

        func run() throws {
            let cache = try host.layout.cache
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []
            for entry in entries { LayerUnpacker.removeTree(at: "\(cache)/\(entry)") }
            print("emptied \(cache) (\(entries.count) entries)")
        }
    }
}
