import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SystemErrors

/// The bytes of one blob as they arrive in a ``ContentStore``, for a reader that wants them
/// before the blob is complete: the unpacker applies a layer while it still downloads.
///
/// The ingest that writes the blob reports each step (``BlobIngest``): where its partial file is,
/// how many bytes are in it, a restart from zero, the commit, or the end without one. A reader
/// reads at any offset and waits while the bytes there have yet to come. Nothing read here is
/// verified: the reader hashes what it reads itself and checks the digest at the end, as the
/// ingest does before the blob may enter the store.
///
/// `@unchecked Sendable`: every mutable field is read and written only with `condition` held.
public final class BlobArrival: @unchecked Sendable {
    public let digest: Digest
    public let size: Int64

    private let condition = NSCondition()
    /// A descriptor of the partial file (later the stored blob); -1 until the first byte can come.
    private var fd: Int32 = -1
    private var available: Int64 = 0
    private var complete = false
    private var failure: Error?

    init(digest: Digest, size: Int64) {
        self.digest = digest
        self.size = size
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Why a reader stopped waiting.
    public enum ArrivalError: Error, CustomStringConvertible {
        /// The blob's download ended without the blob (it failed, or was cancelled).
        case abandoned(Digest)

        public var description: String {
            switch self {
            case .abandoned(let digest): return "the download of \(digest) stopped before it was complete"
            }
        }
    }

    // MARK: The writer's side

    /// The ingest opened its partial file at `path`, which holds `bytes` already. The reader
    /// opens the file anew: a duplicate of the ingest's descriptor would share (and so keep) the
    /// ingest's lock on it.
    func began(path: String, holding bytes: Int64) {
        update {
            if fd < 0 { fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            available = bytes
            failure = nil
        }
    }

    /// The partial file now holds `bytes`.
    func grew(to bytes: Int64) {
        update { available = bytes }
    }

    /// The partial file is about to be emptied (a server ignored a range request). Called before
    /// the truncation, so no reader relies on bytes about to go.
    func restarting() {
        update { available = 0 }
    }

    /// The blob is in the store at `path`, whole and verified.
    func completed(path: String) {
        update {
            if fd < 0 { fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            available = size
            complete = true
        }
    }

    /// The ingest ended without committing the blob.
    func abandoned(_ error: Error? = nil) {
        update {
            if !complete { failure = error ?? ArrivalError.abandoned(digest) }
        }
    }

    private func update(_ change: () -> Void) {
        condition.lock()
        change()
        condition.broadcast()
        condition.unlock()
    }

    // MARK: The reader's side

    /// Reads up to `buffer.count` bytes at `offset`, waiting for them to arrive; 0 only at the
    /// end of the blob. Throws when the blob will not arrive.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            condition.lock()
            while offset < size && !(fd >= 0 && available > offset) && failure == nil {
                condition.wait()
            }
            if let failure {
                condition.unlock()
                throw failure
            }
            guard offset < size else {
                condition.unlock()
                return 0
            }
            let wanted = Int(min(Int64(buffer.count), available - offset))
            let file = fd
            condition.unlock()
            let got = pread(file, base, wanted, off_t(offset))
            if got > 0 { return got }
            if got < 0 && errno != EINTR {
                throw FilesystemError(path: "blob \(digest)", operation: "read", errno: errno)
            }
            // Fewer bytes than announced: the file was emptied for a restart meanwhile. Wait again.
        }
    }

    /// Whether the blob is whole in the store.
    public var isComplete: Bool {
        condition.lock()
        defer { condition.unlock() }
        return complete
    }
}

/// The blobs whose arrival someone watches, by digest: what a ``ContentStore`` tells its ingests.
public final class BlobArrivals: Sendable {
    private let watched = Mutex<[Digest: BlobArrival]>([:])

    public init() {}

    /// The arrival of the blob `descriptor` names, watched from now on.
    public func watch(_ descriptor: Descriptor) -> BlobArrival {
        watched.withLock { watched in
            if let existing = watched[descriptor.digest] { return existing }
            let arrival = BlobArrival(digest: descriptor.digest, size: descriptor.size)
            watched[descriptor.digest] = arrival
            return arrival
        }
    }

    /// Blobs that are in `store` already are complete: a source may skip them without an ingest.
    public func completeStored(in store: ContentStore) {
        for arrival in all where !arrival.isComplete && store.contains(arrival.digest) {
            arrival.completed(path: store.path(of: arrival.digest))
        }
    }

    /// After the downloads ended: blobs that are in `store` are complete, the others will not
    /// come, for `reason`.
    public func settle(in store: ContentStore, reason: Error? = nil) {
        completeStored(in: store)
        for arrival in all where !arrival.isComplete {
            arrival.abandoned(reason)
        }
    }

    private var all: [BlobArrival] {
        watched.withLock { Array($0.values) }
    }

    func arrival(of digest: Digest) -> BlobArrival? {
        watched.withLock { $0[digest] }
    }
}
