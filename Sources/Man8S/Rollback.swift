import Foundation
import LayerUnpacker

/// What one `machines pull` created on the host, so that a failure (or Ctrl-C) can take exactly
/// that away again and nothing else: a machine appears whole or not at all, and what existed
/// before (the user's configuration and data) is never touched.
final class Rollback: @unchecked Sendable {
    private enum Action {
        case remove(String)
        case move(from: String, back: String)
    }

    private var actions: [Action] = []
    private let lock = NSLock()

    /// A file, symlink or directory tree this run made.
    func created(_ path: String) { append(.remove(path)) }
    /// `original` was moved aside to `aside`; undoing moves it back.
    func movedAside(_ original: String, to aside: String) { append(.move(from: aside, back: original)) }

    private func append(_ action: Action) {
        lock.lock()
        actions.append(action)
        lock.unlock()
    }

    /// Undoes everything, newest first.
    func undo() {
        lock.lock()
        let pending = actions.reversed()
        actions.removeAll()
        lock.unlock()
        for action in pending {
            switch action {
            case .remove(let path): LayerUnpacker.removeTree(at: path)
            case .move(let from, let back): rename(from, back)
            }
        }
    }

    /// Makes `path` and its missing parents, recording each one made.
    func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        var missing: [String] = []
        var current = path
        while !current.isEmpty, current != "/", !FileManager.default.fileExists(atPath: current) {
            missing.append(current)
            current = (current as NSString).deletingLastPathComponent
        }
        for directory in missing.reversed() {
            guard mkdir(directory, mode) == 0 || errno == EEXIST else {
                throw Man8SError.filesystem(path: directory, operation: "create", errno: errno)
            }
            created(directory)
        }
    }
}
