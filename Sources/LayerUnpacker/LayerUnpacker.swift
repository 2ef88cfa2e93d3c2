import OCILayout
import ConfinedFilesystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors
import BlockingWork

/// One layer to apply: where its blob's bytes are, how it is compressed, and the digests it must have.
public struct LayerBlob: Sendable {
    /// Where the compressed bytes come from.
    public enum Source: Sendable {
        /// A complete blob file.
        case file(String)
        /// Bytes still arriving (a download in progress): applied as they come.
        case arriving(any LayerBytes)
    }

    public var source: Source
    public var compression: LayerCompression
    /// `sha256:…` of the blob, checked over the compressed bytes.
    public var digest: String
    /// `sha256:…` of the uncompressed tar (the config's `diff_id`), when known.
    public var diffID: String?

    public init(source: Source, compression: LayerCompression, digest: String, diffID: String?) {
        self.source = source
        self.compression = compression
        self.digest = digest
        self.diffID = diffID
    }

    /// A layer whose blob is the complete file `path`.
    public init(path: String, compression: LayerCompression, digest: String, diffID: String?) {
        self.init(source: .file(path), compression: compression, digest: digest, diffID: diffID)
    }
}

/// Applies image layers, in order, to a root filesystem directory, with libarchive.
///
/// The unpacker assumes the layers are hostile: no entry can write, link, chmod, chown or delete
/// outside the root (see ``RootDirectory``), and both digests of every layer are verified while
/// it streams. It throws on the first problem; the caller removes the half-built root.
public struct LayerUnpacker: Sendable {
    public let rootPath: String
    /// Continue where ownership cannot be set and skip device nodes (umoci's `--rootless`).
    /// Defaults to whether the process is not root.
    public var rootless: Bool
    /// Threads creating regular files beside the one reading the tar (0: that one only).
    public var workers: Int

    /// Workers worth having on this machine. Decompression already has a thread of its own, so
    /// on two cores both are busy and file workers only cost memory (measured with
    /// scripts/bench-unpack: no faster, 20 MiB more RSS); with more cores the spare ones create files.
    public static var defaultWorkers: Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return cores <= 2 ? 0 : min(4, cores - 2)
    }

    public init(rootPath: String, rootless: Bool = geteuid() != 0, workers: Int = LayerUnpacker.defaultWorkers) {
        self.rootPath = rootPath
        self.rootless = rootless
        self.workers = workers
    }

    /// Applies `layer` on top of what the root holds, stopping (with `CancellationError`)
    /// between entries once `cancellation` is raised.
    @discardableResult
    public func apply(_ layer: LayerBlob, cancellation: CancellationFlag? = nil) throws -> UnpackStatistics {
        // libarchive hands out names in the thread's locale; in plain "C" a UTF-8 PAX name
        // cannot be converted and comes back missing. Use C.UTF-8 on this thread while we work.
        let utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil)
        let previous = utf8.map { uselocale($0) }
        defer {
            if let previous { uselocale(previous) }
            if let utf8 { freelocale(utf8) }
        }
        let root = try RootDirectory(path: rootPath)
        let bytes: any LayerBytes
        switch layer.source {
        case .file(let path): bytes = try LayerFile(path: path, layer: layer.digest)
        case .arriving(let arriving): bytes = arriving
        }
        let stream = try LayerStream(bytes: bytes, compression: layer.compression, name: layer.digest)
        let writers = workers > 0 ? FileWriterPool(layer: layer.digest, rootless: rootless, workers: workers) : nil
        defer { writers?.shutdown() }
        let application = LayerApplication(root: root, layer: layer.digest, rootless: rootless, writers: writers)
        while let entry = try stream.nextEntry() {
            try cancellation?.check()
            try application.apply(entry, from: stream)
        }
        let (digest, diffID) = try stream.finish()
        guard digest == layer.digest else {
            throw UnpackError.digestMismatch(layer: layer.digest, expected: layer.digest, actual: digest)
        }
        if let expected = layer.diffID, expected != diffID {
            throw UnpackError.diffIDMismatch(layer: layer.digest, expected: expected, actual: diffID)
        }
        try application.finish()
        return application.statistics
    }
}
