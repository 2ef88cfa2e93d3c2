import ArgumentParser
import Dispatch
import Foundation
import Synchronization

/// Runs `work` so that Ctrl-C (SIGINT) or SIGTERM cancels it, letting it undo what it made,
/// instead of killing the process half-way; a second signal ends the process at once.
enum Interruption {
    /// With `announcing` false (a service that systemd stops with SIGTERM), nothing is said and
    /// the signal ends the command as a success.
    static func cancellable<T: Sendable>(announcing: Bool = true, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
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
                // A second signal while the first one's undo runs: leave at once. What is left
                // (a staging directory, a half-built generation) is removed by the next mbctl
                // for that machine or cache, and the kernel drops every lock with the process.
                guard received.exchange(number, ordering: .relaxed) == 0 else {
                    FileHandle.standardError.write(Data("interrupted again: stopping now; the next mbctl for it removes what is left\n".utf8))
                    _exit(128 + number)
                }
                if announcing {
                    FileHandle.standardError.write(Data("\ninterrupted: undoing what was made… (interrupt again to stop at once)\n".utf8))
                }
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
            guard announcing else { throw ExitCode.success }
            FileHandle.standardError.write(Data("interrupted; nothing half-made was left\n".utf8))
            throw ExitCode(128 + signal)
        }
    }
}
