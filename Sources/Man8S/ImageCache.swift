import Foundation
import LayerUnpacker

/// The image cache (`/var/tmp/man8s`): an OCI image layout of every image pulled or imported.
public struct ImageCache: Sendable {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    /// Empties the cache (blobs, partial downloads, tags); returns how many entries it removed.
    /// Machines do not need it: their rootfses are copies.
    @discardableResult
    public func clear() -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for entry in entries { LayerUnpacker.removeTree(at: "\(path)/\(entry)") }
        return entries.count
    }
}
