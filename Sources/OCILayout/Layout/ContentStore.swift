import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemErrors

/// The content-addressed blobs of an OCI image layout (`blobs/sha256/<hex>`).
///
/// A blob enters the store only through ``BlobIngest`` or ``write(_:as:)``, both of which verify
/// size and digest before an atomic rename into `blobs/`. So whatever sits in `blobs/` was
/// verified once, and a blob already present is never fetched again.
public struct ContentStore: Sendable {
    /// The image layout directory holding `blobs/`.
    public let root: String
    /// Told of every step of every ingest through this store value, for whoever reads blobs'
    /// bytes while they arrive (see ``BlobArrival``); nil for a store nobody watches.
    public let arrivals: BlobArrivals?

    public init(root: String, arrivals: BlobArrivals? = nil) {
        self.root = root
        self.arrivals = arrivals
    }

    /// The same blobs, with every ingest through the returned store told to `arrivals`.
    public func reporting(to arrivals: BlobArrivals) -> ContentStore {
        ContentStore(root: root, arrivals: arrivals)
    }

    var blobsDirectory: String { "\(root)/blobs/sha256" }
    /// Where blobs are assembled before they are verified; partial downloads stay here so that a
    /// later attempt can resume them.
    var ingestDirectory: String { "\(root)/.ingest" }

    public func path(of digest: Digest) -> String {
        "\(blobsDirectory)/\(digest.encoded)"
    }

    public func contains(_ digest: Digest) -> Bool {
        var info = stat()
        return lstat(path(of: digest), &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Reads a small blob (a manifest or config) whole, refusing one larger than `limit` and
    /// verifying size and digest, since the layout may come from someone else.
    public func read(_ descriptor: Descriptor, limit: Int64) throws -> Data {
        guard descriptor.size <= limit else {
            throw OCILayoutError.tooLarge(what: "blob \(descriptor.digest)", size: descriptor.size, limit: limit)
        }
        let blobPath = path(of: descriptor.digest)
        let file: OpenFile
        do {
            file = try OpenFile(path: blobPath, flags: O_RDONLY | O_NOFOLLOW)
        } catch let error as FilesystemError where error.errno == ENOENT {
            throw OCILayoutError.blobNotFound(descriptor.digest, layout: root)
        }
        let data = try file.read(upTo: Int(descriptor.size) + 1)
        guard Int64(data.count) == descriptor.size else {
            throw OCILayoutError.sizeMismatch(digest: descriptor.digest, expected: descriptor.size, actual: Int64(data.count))
        }
        try descriptor.digest.verify(data)
        return data
    }

    /// Stores `data` as the blob `descriptor` names, after checking it is that blob.
    public func write(_ data: Data, as descriptor: Descriptor) throws {
        if contains(descriptor.digest) { return }
        try ingestWhole(descriptor) { ingest in try data.withUnsafeBytes { try ingest.append($0) } }
    }

    /// Stores one blob from a local source in one go: `fill` appends all its bytes to the ingest,
    /// which then verifies and commits them. Nothing is kept on failure (there is nothing to
    /// resume from a local source). A blob already stored is left alone.
    public func ingestWhole(_ descriptor: Descriptor, fill: (BlobIngest) throws -> Void) throws {
        let ingest = try beginIngest(descriptor)
        guard !ingest.isAlreadyStored else { return }
        do {
            try ingest.restart()
            try fill(ingest)
            try ingest.commit()
        } catch {
            ingest.discard()
            throw error
        }
    }

    /// The first `count` bytes (fewer if the blob is shorter) of a stored blob: enough to tell
    /// how it is compressed.
    public func prefix(of descriptor: Descriptor, count: Int) throws -> [UInt8] {
        let file = try OpenFile(path: path(of: descriptor.digest), flags: O_RDONLY | O_NOFOLLOW)
        return [UInt8](try file.read(upTo: count))
    }

    /// Starts (or resumes) assembling the blob `descriptor` names. See ``BlobIngest``.
    public func beginIngest(_ descriptor: Descriptor) throws -> BlobIngest {
        try BlobIngest(store: self, descriptor: descriptor)
    }

    /// Copies the blob `descriptor` names from another store, verifying it on the way (the
    /// other store may be someone else's layout or archive). Reports bytes copied to `progress`.
    public func copy(_ descriptor: Descriptor, from other: ContentStore, progress: ((Int64) -> Void)? = nil) throws {
        let sourcePath = other.path(of: descriptor.digest)
        let source: OpenFile
        do {
            source = try OpenFile(path: sourcePath, flags: O_RDONLY | O_NOFOLLOW)
        } catch let error as FilesystemError where error.errno == ENOENT || error.errno == ELOOP {
            throw OCILayoutError.blobNotFound(descriptor.digest, layout: other.root)
        }
        try ingestWhole(descriptor) { ingest in
            while true {
                let chunk = try source.read(upTo: 1 << 20)
                if chunk.isEmpty { break }
                try chunk.withUnsafeBytes { try ingest.append($0) }
                progress?(ingest.offset)
            }
        }
    }

    /// Stores bytes whose digest is not known in advance (files of a legacy docker archive),
    /// pulled from `read` until it returns 0; returns their descriptor.
    public func ingestComputingDigest(mediaType: String, read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Descriptor {
        try prepare()
        try DurableFile.makeDirectory(ingestDirectory)
        let temporary = "\(ingestDirectory)/unknown-\(getpid())-\(UUID().uuidString)"
        do {
            let file = try OpenFile(path: temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o644)
            var digester = StreamingDigester()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let got = try read(buffer)
                if got == 0 { break }
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<got])
                try file.writeAll(bytes)
                digester.update(bytes)
            }
            try file.sync()
            let digest = digester.finalize()
            if contains(digest) {
                unlink(temporary)
            } else {
                try DurableFile.rename(temporary, to: path(of: digest))
            }
            rmdir(ingestDirectory)
            return Descriptor(mediaType: mediaType, digest: digest, size: digester.byteCount)
        } catch {
            unlink(temporary)
            rmdir(ingestDirectory)
            throw error
        }
    }

    /// Creates `blobs/sha256/` (and the layout root) when missing.
    func prepare() throws {
        try DurableFile.makeDirectory(blobsDirectory)
    }
}
