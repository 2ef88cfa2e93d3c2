import ConfinedFilesystem
import Foundation
import Testing
import SystemErrors

/// Host directories below world-writable ones cannot be planted by another user.
@Suite struct HostDirectoryTests {
    let work = Scratch()

    /// A world-writable, sticky directory like /var/tmp.
    func openToAll() throws -> String {
        let path = try work.directory("tmp")
        #expect(chmod(path, 0o1777) == 0)
        return path
    }

    func refusal(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func makesAPrivateDirectory() throws {
        defer { work.remove() }
        let path = try openToAll() + "/man8s/cache"
        let opened = try HostDirectory.open(path, mode: 0o700, privacy: .ownedByUser)
        #expect(opened.created)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o7777 == 0o700 && info.st_uid == geteuid())
        // The parent it made below the world-writable directory is not writable by others either.
        #expect(stat((path as NSString).deletingLastPathComponent, &info) == 0 && info.st_mode & 0o022 == 0)
        #expect(try HostDirectory.open(path, mode: 0o700, privacy: .ownedByUser).created == false)
    }

    @Test func refusesASymlinkPlantedBelowAWorldWritableDirectory() throws {
        defer { work.remove() }
        let victim = try work.directory("etc")
        try work.file("etc/passwd", "root")
        let tmp = try openToAll()
        try work.symlink("tmp/man8s", victim)
        let error = refusal { _ = try HostDirectory.open("\(tmp)/man8s", mode: 0o700, privacy: .ownedByUser) }
        #expect(error?.contains("\(tmp)/man8s: is a symlink") == true, "\(error ?? "accepted")")
        // Even when only a directory further down is asked for.
        let deeper = refusal { _ = try HostDirectory.open("\(tmp)/man8s/blobs", mode: 0o700) }
        #expect(deeper?.contains("is a symlink") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: victim) == ["passwd"])
    }

    @Test func refusesADirectoryOfAnotherUserOrOneOthersCanWrite() throws {
        defer { work.remove() }
        let tmp = try openToAll()
        let foreign = try work.directory("tmp/foreign")
        #expect(chown(foreign, 65534, 65534) == 0)
        let error = refusal { _ = try HostDirectory.open(foreign, mode: 0o700, privacy: .ownedByUser) }
        #expect(error?.contains("belongs to user 65534") == true, "\(error ?? "accepted")")
        let writable = try work.directory("tmp/writable")
        #expect(chmod(writable, 0o777) == 0)
        let other = refusal { _ = try HostDirectory.open(writable, mode: 0o700, privacy: .ownedByUser) }
        #expect(other?.contains("writable by group or others (mode 777)") == true, "\(other ?? "accepted")")
        _ = tmp
    }

    @Test func followsTheOperatorsSymlinksWhereNobodyElseCanWrite() throws {
        defer { work.remove() }
        let real = try work.directory("srv/machines")
        try work.directory("var/lib")
        try work.symlink("var/lib/man8machines", real)
        let opened = try HostDirectory.open("\(work.path)/var/lib/man8machines", mode: 0o700)
        #expect(!opened.created)
        var info = stat(), target = stat()
        #expect(fstat(opened.handle.fd, &info) == 0 && stat(real, &target) == 0 && info.st_ino == target.st_ino)
    }

    @Test func narrowsAWideDirectoryWhenAsked() throws {
        defer { work.remove() }
        let path = try work.directory("machines")
        #expect(chmod(path, 0o755) == 0)
        let opened = try HostDirectory.open(path, mode: 0o700, privacy: .ownedByUserNarrowed)
        #expect(opened.narrowed)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o7777 == 0o700)
    }
}

/// Locks that a killed holder cannot leave behind.
@Suite struct FileLockTests {
    let work = Scratch()

    @Test func oneHolderAtATimeAndOthersCanSeeIt() throws {
        defer { work.remove() }
        let directory = try DirectoryHandle.open(try work.directory("locks"))
        let name = Array("web.lock".utf8)
        #expect(try FileLock.isHeld(name, in: directory) == false)
        let first = try #require(try FileLock.attempt(name, in: directory))
        try first.write(note: "pid=1 doing=made")
        #expect(try FileLock.attempt(name, in: directory) == nil)
        #expect(try FileLock.isHeld(name, in: directory))
        // Testing does not take it: the holder keeps it.
        #expect(try FileLock.attempt(name, in: directory) == nil)
        first.release()
        #expect(try FileLock.isHeld(name, in: directory) == false)
        // Released locks leave no file behind.
        #expect(try directory.status(of: name) == nil)
        #expect(try FileLock.attempt(name, in: directory) != nil)
    }

    @Test func aLockFileThatIsASymlinkIsRefused() throws {
        defer { work.remove() }
        let directory = try DirectoryHandle.open(try work.directory("locks"))
        try work.file("target", "")
        try work.symlink("locks/web.lock", "\(work.path)/target")
        #expect(throws: SystemCallError.self) { try FileLock.attempt(Array("web.lock".utf8), in: directory) }
    }
}
