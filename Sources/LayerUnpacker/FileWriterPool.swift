import ConfinedFilesystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemErrors

/// A regular file whose bytes were read from the tar, waiting to be created by a worker.
struct FileJob: Sendable {
    let path: EntryPath
    let parent: DirectoryHandle
    let data: [UInt8]
    let metadata: EntryMetadata
}

/// Creates regular files on worker threads while the reader goes on through the tar.
///
/// Creating files costs far more kernel time than reading a tar, so the reader hands small files
/// (with their bytes) to a few workers. Order is kept where it matters: the reader waits for a
/// path's pending file before touching that path again (see ``waitFor(_:)``), and for all of them
/// before deletions and at the end of the layer (``drain()``). Memory stays bounded: at most
/// ``byteBudget`` bytes of file contents are queued at once.
///
/// `@unchecked Sendable`: the queue, the pending paths and the first error are touched only with
/// `condition` held.
final class FileWriterPool: @unchecked Sendable {
    let layer: String
    let rootless: Bool
    let byteBudget: Int
    /// Files larger than this are written by the reader itself.
    let largestQueuedFile: Int

    private let condition = NSCondition()
    private var queue: [FileJob] = []
    private var queueHead = 0
    private var pending = Set<EntryPath>()
    private var queuedBytes = 0
    private var stopping = false
    private var failure: Error?
    private var skipped = SkipCounters()
    private var running = 0

    init(layer: String, rootless: Bool, workers: Int, byteBudget: Int = 4 << 20) {
        self.layer = layer
        self.rootless = rootless
        self.byteBudget = byteBudget
        self.largestQueuedFile = byteBudget / 4
        for _ in 0..<workers {
            running += 1
            let thread = Thread { [self] in work() }
            thread.stackSize = 512 << 10
            thread.start()
        }
    }

    /// Queues a file, waiting while the budget is spent. Throws a worker's error, if one failed.
    func submit(_ job: FileJob) throws {
        condition.lock()
        defer { condition.unlock() }
        while queuedBytes > 0 && queuedBytes + job.data.count > byteBudget && failure == nil {
            condition.wait()
        }
        if let failure { throw failure }
        queue.append(job)
        pending.insert(job.path)
        queuedBytes += job.data.count
        condition.broadcast()
    }

    /// Waits until neither `path` nor any of its ancestors has a file still being created.
    func waitFor(_ path: EntryPath) throws {
        condition.lock()
        defer { condition.unlock() }
        while isPending(path) && failure == nil { condition.wait() }
        if let failure { throw failure }
    }

    private func isPending(_ path: EntryPath) -> Bool {
        guard !pending.isEmpty else { return false }
        var prefix = path
        while !prefix.isRoot {
            if pending.contains(prefix) { return true }
            prefix = prefix.parent
        }
        return false
    }

    /// Waits until every queued file exists; returns what rootless mode skipped so far.
    func drain() throws -> SkipCounters {
        condition.lock()
        defer { condition.unlock() }
        while !pending.isEmpty && failure == nil { condition.wait() }
        if let failure { throw failure }
        let result = skipped
        skipped = SkipCounters()
        return result
    }

    /// Stops the workers, dropping what is queued; returns when they have ended.
    func shutdown() {
        condition.lock()
        stopping = true
        queue.removeAll()
        queueHead = 0
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            while queueHead == queue.count && !stopping { condition.wait() }
            if stopping { break }
            let job = queue[queueHead]
            queueHead += 1
            if queueHead > 256 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            condition.unlock()
            var counters = SkipCounters()
            var error: Error?
            do {
                try RegularFile.create(job.path.name, in: job.parent, metadata: job.metadata, rootless: rootless, counters: &counters) { fd in
                    try FileDescriptor.writeAll(fd, job.data, at: 0)
                }
            } catch let failed as SystemCallError {
                error = UnpackError.entryFailed(layer: layer, entry: String(job.path.display.dropFirst()), cause: failed)
            } catch let other {
                error = other
            }
            condition.lock()
            pending.remove(job.path)
            queuedBytes -= job.data.count
            skipped.ownership += counters.ownership
            skipped.xattrs += counters.xattrs
            if let error, failure == nil { failure = error }
            condition.broadcast()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
