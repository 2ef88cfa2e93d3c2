import Foundation
import OCILayout
import Synchronization

/// Draws ``TransferEvent``s for a person. On a terminal: a block of lines redrawn in place, one
/// per blob (bytes downloaded, rate, whether it is downloading, stored or applied, and how far
/// the unpacker has read a layer that is applied while it downloads). Otherwise: plain log lines
/// on standard error, one per event that matters, so logs stay readable.
final class TransferReporter: Sendable {
    private struct Blob {
        var digest: Digest
        var total: Int64
        var done: Int64 = 0
        /// Bytes of it the unpacker has read (layers only).
        var applied: Int64 = 0
        var started = Date()
        var finished: Date?
        var status = "waiting"
    }

    private struct State {
        var blobs: [Blob] = []
        var layers: [Digest] = []
        var drawnLines = 0
        var lastDraw = Date.distantPast
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
                state.layers = layers.map(\.digest)
                let size = layers.reduce(0) { $0 + $1.size }
                log("\(image): manifest \(manifest.digest), \(layers.count) layers, \(Self.bytes(size))", &state)
            case .blobStarted(let descriptor, let offset):
                let index = blobIndex(descriptor.digest, total: descriptor.size, &state)
                state.blobs[index].status = offset > 0 ? "resuming" : "downloading"
                state.blobs[index].done = offset
                if offset > 0 {
                    log("resuming \(Self.short(descriptor.digest)) at \(Self.bytes(offset)) of \(Self.bytes(descriptor.size))", &state)
                } else if !interactive {
                    log("fetching \(Self.short(descriptor.digest)) (\(Self.bytes(descriptor.size)))", &state)
                }
            case .blobProgress(let digest, let completed, let total):
                let index = blobIndex(digest, total: total, &state)
                state.blobs[index].done = completed
                state.blobs[index].status = "downloading"
            case .blobFinished(let digest):
                let index = blobIndex(digest, total: 0, &state)
                state.blobs[index].done = state.blobs[index].total
                state.blobs[index].finished = Date()
                state.blobs[index].status = "stored"
                if !interactive { log("stored \(Self.short(digest))", &state) }
            case .blobSkipped(let descriptor):
                let index = blobIndex(descriptor.digest, total: descriptor.size, &state)
                state.blobs[index].done = descriptor.size
                state.blobs[index].status = "already here"
                if !interactive { log("already have \(Self.short(descriptor.digest))", &state) }
            case .layerApplying(let digest, let completed, let total):
                let index = blobIndex(digest, total: total, &state)
                state.blobs[index].applied = completed
            case .source(let image, let from, let mirror):
                log("\(image) comes from \(from)" + (mirror ? " (a mirror, registries.conf)" : " (registries.conf)"), &state)
            case .retrying(let url, let attempt, let delay, let reason):
                log("retrying \(url) in \(String(format: "%.1f", delay))s (attempt \(attempt) failed: \(reason))", &state)
            case .uploadStarted(let descriptor):
                let index = blobIndex(descriptor.digest, total: descriptor.size, &state)
                state.blobs[index].status = "uploading"
                state.blobs[index].started = Date()
                if !interactive { log("uploading \(Self.short(descriptor.digest)) (\(Self.bytes(descriptor.size)))", &state) }
            case .uploadProgress(let digest, let completed, let total):
                let index = blobIndex(digest, total: total, &state)
                state.blobs[index].done = completed
                state.blobs[index].status = "uploading"
            case .blobPushed(let descriptor, let outcome):
                let index = blobIndex(descriptor.digest, total: descriptor.size, &state)
                state.blobs[index].done = descriptor.size
                switch outcome {
                case .alreadyThere: state.blobs[index].status = "already there"
                case .mounted(let from): state.blobs[index].status = "mounted from \(from)"
                case .uploaded(let chunks):
                    state.blobs[index].status = chunks > 1 ? "pushed (\(chunks) chunks)" : "pushed"
                    state.blobs[index].finished = Date()
                }
                if !interactive { log("\(Self.short(descriptor.digest)): \(state.blobs[index].status)", &state) }
            case .manifestPushed(let descriptor, let tag):
                log(
                    "pushed \(MediaType.indexTypes.contains(descriptor.mediaType) ? "index" : "manifest") \(descriptor.digest)"
                        + (tag.map { " as \($0)" } ?? ""), &state)
            }
            draw(&state, force: false)
        }
    }

    /// A layer was applied to the rootfs being built.
    func layerApplied(index: Int, count: Int, entries: Int) {
        guard !quiet else { return }
        state.withLock { state in
            if interactive, index - 1 < state.layers.count {
                let digest = state.layers[index - 1]
                let blob = blobIndex(digest, total: 0, &state)
                state.blobs[blob].status = "applied (\(entries) entries)"
                draw(&state, force: true)
            } else {
                log("applied layer \(index)/\(count) (\(entries) entries)", &state)
            }
        }
    }

    func finish() {
        guard !quiet, interactive else { return }
        state.withLock { state in draw(&state, force: true) }
    }

    private func blobIndex(_ digest: Digest, total: Int64, _ state: inout State) -> Int {
        if let index = state.blobs.firstIndex(where: { $0.digest == digest }) {
            if total > 0 { state.blobs[index].total = total }
            return index
        }
        state.blobs.append(Blob(digest: digest, total: total))
        return state.blobs.count - 1
    }

    /// Redraws the block of blob lines (at most ten times a second unless forced).
    private func draw(_ state: inout State, force: Bool) {
        guard interactive else { return }
        let now = Date()
        guard force || now.timeIntervalSince(state.lastDraw) > 0.1 else { return }
        state.lastDraw = now
        var text = state.drawnLines > 0 ? "\u{1B}[\(state.drawnLines)A" : ""
        for blob in state.blobs {
            let elapsed = max(0.001, (blob.finished ?? now).timeIntervalSince(blob.started))
            let rate =
                blob.status == "downloading" || blob.status == "uploading" || blob.finished != nil
                ? "  \(Self.bytes(Int64(Double(blob.done) / elapsed)))/s" : ""
            let applied = blob.applied > 0 && !blob.status.hasPrefix("applied") ? "  applying \(Self.bytes(blob.applied))" : ""
            text += "\r\u{1B}[2K  \(Self.short(blob.digest))  \(Self.bytes(blob.done)) / \(Self.bytes(blob.total))\(rate)  \(blob.status)\(applied)\n"
        }
        state.drawnLines = state.blobs.count
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// A line above the block (which is redrawn below it).
    private func log(_ line: String, _ state: inout State) {
        var text = ""
        if interactive && state.drawnLines > 0 {
            text += "\u{1B}[\(state.drawnLines)A\u{1B}[J"
            state.drawnLines = 0
        }
        text += line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
        if interactive { draw(&state, force: true) }
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
