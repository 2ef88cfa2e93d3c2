import ConfinedFilesystem
import Foundation
import SystemErrors
import Testing
@testable import Man8S

/// Undoing a pull removes what it made, where it made it, and nothing else.
@Suite struct UndoLogTests {
    let work = NSTemporaryDirectory() + "mbctl-rollback-\(UUID().uuidString)"

    init() throws {
        try FileManager.default.createDirectory(atPath: "\(work)/storage/other/data", withIntermediateDirectories: true)
        try "another machine's".write(toFile: "\(work)/storage/other/data/file", atomically: false, encoding: .utf8)
    }

    @Test func undoCannotReachASiblingWhateverIsRenamedOnTheWay() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let storage = try DirectoryHandle.open("\(work)/storage")
        let undo = UndoLog()
        let (machine, created) = try undo.makeDirectory(Array("web".utf8), in: storage, mode: 0o700, path: "\(work)/storage/web")
        #expect(created)
        let (data, _) = try undo.makeDirectories(EntryPath("srv/data"), beneath: machine, mode: 0o755, basePath: "\(work)/storage/web")
        try data.writeFile(Array("seed".utf8), contents: Array("s".utf8), mode: 0o644)
        undo.created(Array("seed".utf8), in: data)

        // Meanwhile the machine's directory is moved away and a symlink to another machine's
        // directory takes its place.
        #expect(rename("\(work)/storage/web", "\(work)/storage/web-moved") == 0)
        #expect(symlink("\(work)/storage/other", "\(work)/storage/web") == 0)
        undo.revert()
        #expect(try String(contentsOfFile: "\(work)/storage/other/data/file", encoding: .utf8) == "another machine's")
        // What it made went, where it made it.
        #expect(!FileManager.default.fileExists(atPath: "\(work)/storage/web-moved/srv/data/seed"))
    }

    @Test func aDirectoryThatWasThereIsNotCreatedAndStays() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        let storage = try DirectoryHandle.open("\(work)/storage")
        let undo = UndoLog()
        let (other, created) = try undo.makeDirectory(Array("other".utf8), in: storage, mode: 0o700, path: "\(work)/storage/other")
        #expect(!created)
        let (_, deeperCreated) = try undo.makeDirectories(EntryPath("data/new"), beneath: other, mode: 0o755, basePath: "\(work)/storage/other")
        #expect(deeperCreated)
        undo.revert()
        #expect(FileManager.default.fileExists(atPath: "\(work)/storage/other/data/file"))
        #expect(!FileManager.default.fileExists(atPath: "\(work)/storage/other/data/new"))
    }

    @Test func aSymlinkInTheWayIsAnErrorNeverFollowed() throws {
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: "\(work)/storage/web", withIntermediateDirectories: true)
        #expect(symlink("\(work)/storage/other/data", "\(work)/storage/web/srv") == 0)
        let web = try DirectoryHandle.open("\(work)/storage/web")
        let undo = UndoLog()
        #expect(throws: FilesystemError.self) {
            try undo.makeDirectories(EntryPath("srv/cron.d"), beneath: web, mode: 0o755, basePath: "\(work)/storage/web")
        }
        undo.revert()
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(work)/storage/other/data") == ["file"])
    }
}
