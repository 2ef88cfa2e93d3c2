import ArgumentParser
import Dispatch
import Foundation
import Synchronization

/// Runs `work` so that Ctrl-C (SIGINT) or SIGTERM cancels it, letting it undo what it made,
/// instead of killing the process half-way.
enum Interruption {
    static func cancellable<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        // A parent may have left these blocked (Foundation's Process does); we want to hear them.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let task = Task { try await work() }
        let received = Atomic<Int32>(0)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\ninterrupted: undoing what was made…\n".utf8))
                received.store(number, ordering: .relaxed)
                task.cancel()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            return try await task.value
        } catch {
            // Whatever the interrupted work threw on its way out (a CancellationError, a
            // transfer aborted), the outcome is the interruption: say so, exit as shells expect.
            let signal = received.load(ordering: .relaxed)
            guard signal != 0 else { throw error }
            FileHandle.standardError.write(Data("interrupted; nothing half-made was left\n".utf8))
            throw ExitCode(128 + signal)
        }
    }
}
