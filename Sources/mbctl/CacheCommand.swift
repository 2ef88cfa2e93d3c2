import ArgumentParser
import Foundation
import ImageAccess
import Man8S

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "See and tidy the image cache and the image trees.",
        subcommands: [List.self, Prune.self, Clear.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The images of the cache and their trees: reference, digest, sizes, machines using them, last use; the layer chains and their images.")

        @OptionGroup var host: HostOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let entries = try ImageCacheInventory(layout: try host.layout).list()
            if json {
                try printJSON(entries)
                return
            }
            let dates = DateFormatter()
            dates.dateFormat = "yyyy-MM-dd HH:mm"
            printRow(["IMAGE", "DIGEST", "STORED", "UNPACKED", "TREE", "MACHINES", "LAST USED"])
            for entry in entries {
                printRow([
                    entry.references.first ?? "-", String(entry.digest.prefix(19)),
                    entry.storedSize.map(TransferReporter.bytes) ?? "-", entry.unpackedSize.map(TransferReporter.bytes) ?? "-",
                    entry.tree ? "yes" : "no", entry.machines.isEmpty ? "-" : entry.machines.joined(separator: ","),
                    entry.lastUsed.map(dates.string) ?? "-",
                ])
            }
            // The layer chains (btrfs), each with the images whose trees are made of it.
            var users: [String: [String]] = [:], order: [String] = []
            for entry in entries {
                for chain in entry.chains ?? [] {
                    if users[chain] == nil { order.append(chain) }
                    users[chain, default: []].append(entry.references.first ?? String(entry.digest.prefix(19)))
                }
            }
            guard !order.isEmpty else { return }
            say("")
            printRow(["CHAIN", "IMAGES"])
            for chain in order { printRow([String(chain.prefix(19)), users[chain, default: []].joined(separator: ",")]) }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the images, blobs and trees no machine uses.",
            discussion:
                "Keeps what a machine's current or kept generation was made from; refuses while another mbctl uses the cache. The cache stays an OCI image layout that skopeo and umoci read."
        )

        @OptionGroup var host: HostOptions

        func run() throws {
            let result = try ImageCacheInventory(layout: try host.layout).prune()
            say(
                "removed \(result.cache.images) images, \(result.cache.blobs) blobs (\(TransferReporter.bytes(result.cache.bytes))), \(result.trees) trees and \(result.chains) layer chains; kept \(result.kept) images machines use"
            )
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Empty the image cache (blobs, partial downloads, tags).")

        @OptionGroup var host: HostOptions

        func run() throws {
            let cache = ImageCache(path: try host.layout.cache)
            let removed = try cache.clear()
            say("emptied \(cache.path) (\(removed) entries)")
        }
    }
}
