import CLinuxSystem
import ConfinedFilesystem
import Foundation
import TestSupport
import Testing

/// The seed copy of a volume: confined to its destination, faithful, and no larger on disk than
/// the image's tree.
@Suite struct TreeCopyTests {
    let work = Scratch()

    /// Copies `source` (a directory of the scratch area) into `destination`, recording what it
    /// reports as created in existing directories.
    @discardableResult
    func copy(_ source: String, into destination: String, created: CreatedNames? = nil) throws -> TreeCopy.Statistics {
        let from = try DirectoryHandle.open(source), to = try DirectoryHandle.open(destination)
        return try TreeCopy.copyContents(of: from, into: to) { _, name in created?.names.append(String(decoding: name, as: UTF8.self)) }
    }

    final class CreatedNames { var names: [String] = [] }

    @Test func symlinksAreCopiedAsSymlinksAndNeverFollowed() throws {
        defer { work.remove() }
        let outside = try work.directory("outside")
        let source = try work.directory("image/data")
        try work.symlink("image/data/to-root", "/")
        try work.symlink("image/data/to-outside", outside)
        try work.symlink("image/data/up", "../../..")
        try work.directory("image/data/dir")
        try work.file("image/data/dir/file", "content")
        let destination = try work.directory("host/data")
        // The destination already holds a symlink where the image has a directory: it is the
        // user's, kept, and never descended into.
        try work.symlink("host/data/dir", outside)

        let statistics = try copy(source, into: destination)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(destination)/to-root") == "/")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(destination)/to-outside") == outside)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(destination)/up") == "../../..")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(statistics.symlinks == 3 && statistics.kept == 1 && statistics.files == 0)
    }

    @Test func keepsWhatIsThereAndReportsWhatItMadeInExistingDirectories() throws {
        defer { work.remove() }
        let source = try work.directory("image")
        try work.file("image/a", "image's a")
        try work.file("image/b", "image's b")
        try work.directory("image/sub")
        try work.file("image/sub/c", "c")
        let destination = try work.directory("host")
        try work.file("host/a", "user's a")
        let created = CreatedNames()
        try copy(source, into: destination, created: created)
        #expect(try String(contentsOfFile: "\(destination)/a", encoding: .utf8) == "user's a")
        #expect(try String(contentsOfFile: "\(destination)/b", encoding: .utf8) == "image's b")
        #expect(try String(contentsOfFile: "\(destination)/sub/c", encoding: .utf8) == "c")
        // sub/c went with the new directory sub: only the top entries are reported.
        #expect(created.names.sorted() == ["b", "sub"])
    }

    @Test func sparseFilesStaySparse() throws {
        defer { work.remove() }
        let source = try work.directory("image")
        let path = "\(source)/sparse"
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        #expect(pwrite(fd, "start", 5, 0) == 5)
        #expect(pwrite(fd, "end", 3, 1 << 30) == 3)
        close(fd)
        let destination = try work.directory("host")
        let statistics = try copy(source, into: destination)
        var info = stat()
        #expect(stat("\(destination)/sparse", &info) == 0)
        #expect(info.st_size == (1 << 30) + 3)
        // A gibibyte long, a few blocks on disk.
        #expect(Int(info.st_blocks) * 512 < 1 << 20, "\(info.st_blocks) blocks")
        #expect(statistics.bytes < 1 << 20)
        let copied = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(destination)/sparse"))
        #expect(copied.readData(ofLength: 5) == Data("start".utf8))
        try copied.seek(toOffset: 1 << 30)
        #expect(copied.readData(ofLength: 3) == Data("end".utf8))
    }

    @Test func hardlinksStayOneFile() throws {
        defer { work.remove() }
        let source = try work.directory("image")
        try work.directory("image/a")
        try work.directory("image/b")
        try work.file("image/a/original", String(repeating: "x", count: 100_000))
        for index in 0..<50 {
            #expect(link("\(source)/a/original", "\(source)/\(index % 2 == 0 ? "a" : "b")/link\(index)") == 0)
        }
        let destination = try work.directory("host")
        let statistics = try copy(source, into: destination)
        #expect(statistics.files == 1 && statistics.hardlinks == 50)
        var first = stat(), other = stat()
        #expect(stat("\(destination)/a/original", &first) == 0 && stat("\(destination)/b/link49", &other) == 0)
        #expect(first.st_ino == other.st_ino && first.st_nlink == 51)
    }

    @Test func ownersModesTimesAndXattrsAreCopied() throws {
        defer { work.remove() }
        let source = try work.directory("image")
        try work.file("image/tool", "#!/bin/sh\n")
        #expect(chown("\(source)/tool", 0, 0) == 0)
        #expect(chmod("\(source)/tool", 0o4755) == 0)
        #expect(setxattr("\(source)/tool", "user.origin", "image", 5, 0) == 0 || errno == ENOTSUP)
        try work.directory("image/owned")
        #expect(chown("\(source)/owned", 999, 998) == 0)
        #expect(chmod("\(source)/owned", 0o750) == 0)
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, "\(source)/owned", &times, 0) == 0)
        let destination = try work.directory("host")
        try copy(source, into: destination)
        var info = stat()
        #expect(stat("\(destination)/tool", &info) == 0 && info.st_mode & 0o7777 == 0o4755)
        #expect(stat("\(destination)/owned", &info) == 0 && info.st_uid == 999 && info.st_gid == 998 && info.st_mode & 0o7777 == 0o750)
        #expect(info.st_mtim.tv_sec == 1_000_000)
        var value = [UInt8](repeating: 0, count: 16)
        let size = getxattr("\(destination)/tool", "user.origin", &value, value.count)
        #expect(size < 0 || Array(value[0..<size]) == Array("image".utf8))
    }

    @Test func devicesAndFIFOsAreNoSeedData() throws {
        defer { work.remove() }
        let source = try work.directory("image")
        #expect(mkfifo("\(source)/fifo", 0o644) == 0)
        #expect(mknod("\(source)/null", S_IFCHR | 0o666, makedev(1, 3)) == 0)
        let destination = try work.directory("host")
        let statistics = try copy(source, into: destination)
        #expect(statistics.skipped == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination).isEmpty)
    }

    func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
        dev_t(major) << 8 | dev_t(minor)
    }

    /// A clone is the tree again, entry by entry: devices, FIFOs, hardlinks, setuid bits,
    /// xattrs, owners and times (compare-trees.py, the differential tests' judge).
    @Test func aCloneIsTheTreeAgain() throws {
        defer { work.remove() }
        let source = try work.directory("tree")
        try work.directory("tree/bin")
        try work.file("tree/bin/tool", "#!/bin/sh\n")
        #expect(chown("\(source)/bin/tool", 0, 50) == 0 && chmod("\(source)/bin/tool", 0o4755) == 0)
        #expect(link("\(source)/bin/tool", "\(source)/bin/alias") == 0)
        try work.symlink("tree/bin/sh", "tool")
        try work.directory("tree/dev")
        #expect(mknod("\(source)/dev/null", S_IFCHR | 0o666, makedev(1, 3)) == 0)
        #expect(mkfifo("\(source)/dev/queue", 0o600) == 0)
        #expect(setxattr("\(source)/bin/tool", "user.origin", "image", 5, 0) == 0 || errno == ENOTSUP)
        try work.directory("tree/data")
        #expect(chown("\(source)/data", 999, 999) == 0 && chmod("\(source)/data", 0o1770) == 0)
        let destination = try work.directory("clone")
        let statistics = try TreeCopy.copyContents(of: try DirectoryHandle.open(source), into: try DirectoryHandle.open(destination), mode: .clone) { _, _ in }
        try TreeCopy.copyAttributes(of: try DirectoryHandle.open(source), to: try DirectoryHandle.open(destination))
        #expect(statistics.nodes == 2 && statistics.hardlinks == 1)
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
        let compared = try runCommand(["python3", "\(fixtures)/compare-trees.py", source, destination], check: false)
        #expect(compared.succeeded, "\(compared.stdout)")
    }
}
