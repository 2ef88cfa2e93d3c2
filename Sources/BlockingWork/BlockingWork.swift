import Foundation
import Synchronization

/// Runs blocking work (file I/O, lock waits, child processes) on a thread of its own, so that it
/// never holds one of the few threads Swift concurrency runs tasks on: with two cores there are
/// two, and one blocked `flock` would stall every download.
public enum BlockingWork {
    /// Runs `work` on a new thread. When the calling task is cancelled, `work`'s flag is raised:
    /// long work checks it (``CancellationFlag/check()``) and stops.
    public static func run<T: Sendable>(_ work: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread {
                    continuation.resume(with: Result { try work(flag) })
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
        } onCancel: {
            flag.raise()
        }
    }

    /// ``run(_:)`` for work too short to check for cancellation.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await run { (_: CancellationFlag) in try work() }
    }
}
