import ArgumentParser
import ImageAccess
import Man8S

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
            let cache = ImageCache(path: try host.layout.cache)
            let removed = try cache.clear()
            print("emptied \(cache.path) (\(removed) entries)")
        }
    }
}
