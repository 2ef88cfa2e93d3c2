import Foundation

/// A fixed-size buffer of bytes passed from the decompressing thread to the tar reader.
///
/// `@unchecked Sendable`: a chunk belongs to one thread at a time, handed over through the
/// ``ChunkPipe``'s lock (filled by the writer, then read by the reader, then returned empty).
final class Chunk: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    var count = 0

    init(capacity: Int) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }
    var room: Int { storage.count - count }

    /// Copies as much of `source` as fits; returns how many bytes it took.
    func fill(from source: UnsafeRawBufferPointer) -> Int {
        let taken = min(room, source.count)
        guard taken > 0, let base = source.baseAddress, let destination = storage.baseAddress else { return 0 }
        (destination + count).copyMemory(from: base, byteCount: taken)
        count += taken
        return taken
    }
}

/// The chunks between the two threads: a fixed set of them circulates, full ones towards the
/// reader and empty ones back, so memory stays the same whatever the size of the layer. Closing
/// carries an optional error, which the reader sees after the chunks before it.
///
/// `@unchecked Sendable`: its queues and its closing error are touched only with its condition held.
final class ChunkPipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var full: [Chunk] = []
    private var empty: [Chunk]
    private var closed = false
    private var failure: Error?
    private var abandoned = false

    init(chunks: Int, chunkSize: Int) {
        empty = (0..<chunks).map { _ in Chunk(capacity: chunkSize) }
    }

    /// An empty chunk to fill, waiting for the reader to give one back; nil once it went away.
    func emptyChunk() -> Chunk? {
        condition.lock()
        defer { condition.unlock() }
        while empty.isEmpty && !abandoned { condition.wait() }
        guard !abandoned else { return nil }
        let chunk = empty.removeLast()
        chunk.count = 0
        return chunk
    }

    /// Hands a filled chunk to the reader. Returns false when the reader went away.
    func put(_ chunk: Chunk) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !abandoned else { return false }
        full.append(chunk)
        condition.broadcast()
        return true
    }

    /// No more chunks will come; `error` says why, if they stopped early.
    func close(error: Error? = nil) {
        condition.lock()
        closed = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next full chunk; nil at a clean end; throws the producer's error at a failed one.
    func take() throws -> Chunk? {
        condition.lock()
        defer { condition.unlock() }
        while full.isEmpty && !closed { condition.wait() }
        if !full.isEmpty { return full.removeFirst() }
        if let failure { throw failure }
        return nil
    }

    /// Gives a chunk the reader is done with back to the producer.
    func recycle(_ chunk: Chunk) {
        condition.lock()
        empty.append(chunk)
        condition.broadcast()
        condition.unlock()
    }

    /// The reader stops early: unblock and stop the producer.
    func abandon() {
        condition.lock()
        abandoned = true
        condition.broadcast()
        condition.unlock()
    }
}
