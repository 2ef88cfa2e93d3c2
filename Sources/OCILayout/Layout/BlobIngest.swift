import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemErrors

/// One blob being written into a ``ContentStore``: appended in pieces, verified, then renamed
/// into `blobs/` in one step.
///
/// The partial file is `.ingest/sha256-<hex>` under an exclusive `flock`, so two mbctl
/// processes sharing a cache never interleave writes to one blob: the second waits, then finds
/// the blob stored. A partial file left by an interrupted run is kept and re-hashed, so the
/// download can resume from ``offset`` with an HTTP range request.
public final class BlobIngest {
    public let descriptor: Descriptor
    /// Bytes already assembled: where a download resumes.
    public private(set) var offset: Int64 = 0
    /// True when the blob was found in the store (perhaps put there by another process while
    /// this one waited for the lock): nothing needs to be written.
    public private(set) var isAlreadyStored = false

    private let store: ContentStore
    private let partialPath: String
    /// Told of every step, for a reader of the bytes as they arrive.
    private let arrival: BlobArrival?
    private var file: OpenFile?
    private var digester = StreamingDigester()

    init(store: ContentStore, descriptor: Descriptor) throws {
        self.store = store
        self.descriptor = descriptor
        self.partialPath = "\(store.ingestDirectory)/sha256-\(descriptor.digest.encoded)"
        self.arrival = store.arrivals?.arrival(of: descriptor.digest)
        if store.contains(descriptor.digest) {
            isAlreadyStored = true
            arrival?.completed(path: store.path(of: descriptor.digest))
            return
        }
        try store.prepare()
        while true {
            let candidate = try openPartialFile()
            try candidate.lockExclusive()
            if store.contains(descriptor.digest) {
                isAlreadyStored = true
                arrival?.completed(path: store.path(of: descriptor.digest))
                return
            }
            // The holder we waited for may have renamed this inode into blobs/ or unlinked it:
            // only the file still at partialPath is ours to continue.
            let held = try candidate.status()
            var current = stat()
            if lstat(partialPath, &current) == 0, current.st_ino == held.st_ino, current.st_dev == held.st_dev {
                file = candidate
                break
            }
        }
        try rehashExistingBytes()
        if file != nil { arrival?.began(path: partialPath, holding: offset) }
    }

    deinit {
        if file != nil { arrival?.abandoned() }
    }

    /// Opens (creating) the partial file, and `.ingest/` with it: another process may remove the
    /// empty directory between our `mkdir` and `open`, so that race is simply run again.
    private func openPartialFile() throws -> OpenFile {
        var attempts = 0
        while true {
            do {
                return try OpenFile(path: partialPath, flags: O_RDWR | O_CREAT | O_NOFOLLOW | O_APPEND, mode: 0o644)
            } catch let error as FilesystemError where error.errno == ENOENT && attempts < 5 {
                attempts += 1
                try DurableFile.makeDirectory(store.ingestDirectory)
            }
        }
    }

    private func rehashExistingBytes() throws {
        guard let file else { return }
        let length = Int64(try file.status().st_size)
        guard length > 0 else { return }
        guard length <= descriptor.size else {
            try restart()
            return
        }
        lseek(file.fd, 0, SEEK_SET)
        var digester = StreamingDigester()
        while true {
            let chunk = try file.read(upTo: 1 << 20)
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { digester.update($0) }
        }
        self.digester = digester
        self.offset = digester.byteCount
    }

    /// Throws away what was assembled, for a server that ignored a range request.
    public func restart() throws {
        guard let file else { return }
        arrival?.restarting()
        try file.truncate(to: 0)
        digester = StreamingDigester()
        offset = 0
    }

    /// Appends the next bytes of the blob. Refuses bytes past the descriptor's size, so a
    /// server cannot make us write more than the manifest promised.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { return }
        guard offset + Int64(bytes.count) <= descriptor.size else {
            throw OCILayoutError.sizeMismatch(digest: descriptor.digest, expected: descriptor.size, actual: offset + Int64(bytes.count))
        }
        try file.writeAll(bytes)
        digester.update(bytes)
        offset += Int64(bytes.count)
        arrival?.grew(to: offset)
    }

    /// Verifies size and digest and moves the blob into `blobs/`. On a mismatch the partial file
    /// is deleted (its bytes are wrong, resuming it would be pointless) and the error names the digest.
    public func commit() throws {
        guard let file else { return }
        guard offset == descriptor.size else {
            throw OCILayoutError.sizeMismatch(digest: descriptor.digest, expected: descriptor.size, actual: offset)
        }
        let actual = digester.finalize()
        guard actual == descriptor.digest else {
            discard()
            throw OCILayoutError.digestMismatch(expected: descriptor.digest, actual: actual)
        }
        try file.sync()
        try DurableFile.rename(partialPath, to: store.path(of: descriptor.digest))
        try DurableFile.syncDirectory(store.blobsDirectory)
        // Leave no empty .ingest/ behind in a layout that is handed to other tools.
        rmdir(store.ingestDirectory)
        self.file = nil
        isAlreadyStored = true
        arrival?.completed(path: store.path(of: descriptor.digest))
    }

    /// Deletes the partial file.
    public func discard() {
        guard file != nil else { return }
        arrival?.abandoned()
        unlink(partialPath)
        rmdir(store.ingestDirectory)
        file = nil
        offset = 0
    }
}
