import ConfinedFilesystem
import Foundation
import Synchronization
import SystemErrors

/// What one `machines pull` created on the host, so that a failure (or Ctrl-C) can take exactly
/// that away again and nothing else: a machine appears whole or not at all, and what existed
/// before (the user's configuration and data, other machines) is never touched.
///
/// Everything is recorded as an entry of a directory handle taken when the entry was made, and
/// undone relative to that handle: whatever is renamed or replaced by a symlink on the host in
/// the meantime, undoing cannot reach outside the directories the pull worked in. Only what this
/// run made is recorded: a directory that was there already (`EEXIST`) is not "created".
final class UndoLog: Sendable {
    private enum Action: Sendable {
        case remove(DirectoryHandle, [UInt8])
        case moveBack(DirectoryHandle, aside: [UInt8], original: [UInt8])
        case restoreMode(DirectoryHandle, mode_t)
    }

    private let actions = Mutex<[Action]>([])

    /// Entry `name` of `parent` (a file, a symlink or a whole directory tree) was made by this run.
    func created(_ name: [UInt8], in parent: DirectoryHandle) { append(.remove(parent, name)) }

    /// Entry `original` of `parent` was renamed to `aside`; undoing renames it back.
    func movedAside(_ original: [UInt8], to aside: [UInt8], in parent: DirectoryHandle) {
        append(.moveBack(parent, aside: aside, original: original))
    }

    private func append(_ action: Action) {
        actions.withLock { $0.append(action) }
    }

    /// Undoes everything, newest first. What cannot be undone (a directory the user filled in
    /// the meantime) stays.
    func revert() {
        let pending = actions.withLock { actions in
            defer { actions.removeAll() }
            return actions.reversed()
        }
        for action in pending {
            switch action {
            case .remove(let parent, let name): try? parent.removeTree(name)
            case .moveBack(let parent, let aside, let original): try? parent.rename(aside, to: original)
            case .restoreMode(let directory, let mode): _ = fchmod(directory.fd, mode)
            }
        }
    }

    /// Narrows the mode of `directory` (which was there before) to `mode` where it is wider;
    /// undoing gives it its old mode back.
    func narrow(_ directory: DirectoryHandle, to mode: mode_t, path: String) throws {
        let info = try naming(path) { try directory.status() }
        let old = info.st_mode & 0o7777
        guard old & ~mode != 0 else { return }
        guard fchmod(directory.fd, mode) == 0 else { throw FilesystemError(path: path, operation: "chmod", errno: errno) }
        append(.restoreMode(directory, old))
    }

    /// Opens directory `name` of `parent`, making it (with `mode`) when missing and recording it
    /// then. A symlink or file in the way is an error, never followed. Returns the directory and
    /// whether this run made it.
    func makeDirectory(_ name: [UInt8], in parent: DirectoryHandle, mode: mode_t, path: String) throws -> (DirectoryHandle, created: Bool) {
        try naming(path) {
            let made = try parent.makeDirectoryIfMissing(name, mode: mode)
            if made { created(name, in: parent) }
            let directory = try parent.openDirectory(name)
            if made {
                // mkdir applies the umask.
                guard fchmod(directory.fd, mode) == 0 else { throw SystemCallError(operation: "chmod", errno: errno) }
            }
            return (directory, made)
        }
    }

    /// Opens `path` below `base`, one real directory at a time (never through a symlink), making
    /// missing ones with `mode` and recording them. Returns the last and whether this run made it.
    func makeDirectories(_ path: EntryPath, beneath base: DirectoryHandle, mode: mode_t, basePath: String) throws -> (DirectoryHandle, created: Bool) {
        var current = base, made = false, walked = basePath
        for component in path.components {
            walked += "/" + String(decoding: component, as: UTF8.self)
            (current, made) = try makeDirectory(component, in: current, mode: mode, path: walked)
        }
        return (current, made)
    }
}
