import Foundation
import OCILayout
import Synchronization

/// Draws ``TransferEvent``s for a person: on a terminal, one status line rewritten in place
/// (layers done, bytes, rate); otherwise plain log lines on standard error, one per event that
/// matters, so logs stay readable.
final class TransferReporter: Sendable {
    private struct State {
        var totals: [Digest: Int64] = [:]
        var done: [Digest: Int64] = [:]
        var finished = 0
        var skipped = 0
        var lastDraw = Date.distantPast
        var started = Date()
    }

    private let state = Mutex(State())
    private let quiet: Bool
    private let interactive: Bool

    init(quiet: Bool) {
        self.quiet = quiet
        self.interactive = isatty(STDERR_FILENO) == 1
    }

    var handle: TransferEventHandler {
        { [self] event in self.record(event) }
    }

    private func record(_ event: TransferEvent) {
        guard !quiet else { return }
        state.withLock { state in
            switch event {
            case .resolved(let image, let manifest, let layers):
                let size = layers.reduce(0) { $0 + $1.size }
                log("\(image): manifest \(manifest.digest), \(layers.count) layers, \(Self.bytes(size))")
            case .blobStarted(let descriptor, let offset):
                state.totals[descriptor.digest] = descriptor.size
                if offset > 0 { log("resuming \(Self.short(descriptor.digest)) at \(Self.bytes(offset)) of \(Self.bytes(descriptor.size))") }
                else if !interactive { log("fetching \(Self.short(descriptor.digest)) (\(Self.bytes(descriptor.size)))") }
            case .blobProgress(let digest, let completed, _):
                state.done[digest] = completed
            case .blobFinished(let digest):
                state.finished += 1
                state.done[digest] = state.totals[digest]
                if !interactive { log("stored \(Self.short(digest))") }
            case .blobSkipped(let descriptor):
                state.skipped += 1
                if !interactive { log("already have \(Self.short(descriptor.digest))") }
            case .retrying(let url, let attempt, let delay, let reason):
                log("retrying \(url) in \(String(format: "%.1f", delay))s (attempt \(attempt) failed: \(reason))")
            }
            draw(&state, force: false)
        }
    }

    /// A layer was applied to the rootfs being built.
    func layerApplied(index: Int, count: Int, entries: Int) {
        guard !quiet else { return }
        state.withLock { _ in log("applied layer \(index)/\(count) (\(entries) entries)") }
    }

    func finish() {
        guard !quiet, interactive else { return }
        state.withLock { state in
            draw(&state, force: true)
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }

    private func draw(_ state: inout State, force: Bool) {
        guard interactive else { return }
        let now = Date()
        guard force || now.timeIntervalSince(state.lastDraw) > 0.1 else { return }
        state.lastDraw = now
        let done = state.done.values.reduce(0, +)
        let total = state.totals.values.reduce(0, +)
        let rate = Double(done) / max(0.001, now.timeIntervalSince(state.started))
        let line = "\r\u{1B}[2K blobs \(state.finished)/\(state.totals.count) fetched, \(state.skipped) already present, \(Self.bytes(done)) of \(Self.bytes(total)), \(Self.bytes(Int64(rate)))/s"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private func log(_ line: String) {
        let prefix = interactive ? "\r\u{1B}[2K" : ""
        FileHandle.standardError.write(Data((prefix + line + "\n").utf8))
    }

    static func short(_ digest: Digest) -> String { String(digest.encoded.prefix(12)) }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}
