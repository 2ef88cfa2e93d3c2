import Foundation
import Testing

/// A file system made for one test on a loop device (btrfs, xfs with reflink=1, ext4), mounted
/// under the test's directory; unmounted and detached whatever happens.
final class LoopFilesystem {
    let mountPoint: String
    private let image: String
    private var device: String?

    init(_ kind: String, in work: String, size: String = "1G") throws {
        image = "\(work)/\(kind).img"
        mountPoint = "\(work)/\(kind)"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try runCommand(["truncate", "-s", size, image])
        switch kind {
        case "btrfs": try runCommand(["mkfs.btrfs", "-q", image])
        case "xfs": try runCommand(["mkfs.xfs", "-q", "-m", "reflink=1", image])
        default: try runCommand(["mkfs.ext4", "-q", "-F", image])
        }
        device = try runCommand(["losetup", "-f", "--show", image]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            try runCommand(["mount", device ?? "", mountPoint])
        } catch {
            detach()
            throw error
        }
    }

    deinit {
        _ = try? runCommand(["umount", mountPoint], check: false)
        _ = try? runCommand(["umount", "-l", mountPoint], check: false)
        detach()
        try? FileManager.default.removeItem(atPath: image)
    }

    private func detach() {
        if let device { _ = try? runCommand(["losetup", "-d", device], check: false) }
        device = nil
    }

    /// Bytes in use on the file system (`df`).
    func used() throws -> Int64 {
        try runCommand(["sync"])
        let output = try runCommand(["df", "--output=used", "-B1", mountPoint]).stdout
        return output.split(separator: "\n").last.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) } ?? -1
    }
}

/// Machines made from image trees: btrfs snapshots and reflink copies share the image's data,
/// stay isolated from each other and from the tree, go away without leftovers, and `cache
/// prune` keeps exactly what machines use. On ext4 nothing changes: machines are unpacked.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MachineTreeTests {
    let work: String

    init() throws {
        // Loop images are large (sparse): not on the tmpfs some machines have for /tmp.
        work = "/var/tmp/mbctl-trees-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: work) }

    /// An image of 64 MiB of data and a few small files.
    func layout() throws -> String {
        let spec = """
            {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/app/run.sh"]}, "layers": [
              {"compression": "none", "entries": [{"path": "app", "type": "dir"}, {"path": "app/run.sh", "mode": 493, "content": "#!/bin/sh\\n"},
                {"path": "app/data.bin", "type": "random", "size": \(64 << 20), "seed": 11}, {"path": "dev", "type": "dir"},
                {"path": "dev/null", "type": "chardev", "major": 1, "minor": 3}]}]}]}
            """
        try spec.write(toFile: "\(work)/spec.json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/spec.json", "\(work)/layout"])
        return "oci:\(work)/layout:t"
    }

    func mbctl(_ root: String, _ arguments: [String]) throws -> CommandResult {
        try runMbctl(onTestHost(arguments, root: root))
    }

    func pull(_ root: String, _ source: String, _ name: String) throws -> CommandResult {
        try mbctl(root, ["machines", "pull", source, name, "--prefix", MachineLifecycleTests.prefix])
    }

    func subvolumes(_ filesystem: LoopFilesystem) throws -> [String] {
        try runCommand(["btrfs", "subvolume", "list", "-o", filesystem.mountPoint]).stdout.split(separator: "\n").compactMap {
            $0.split(separator: " ").last.map(String.init)
        }
    }

    @Test func btrfsMachinesAreSnapshotsOfOneTree() throws {
        defer { cleanUp() }
        let filesystem = try LoopFilesystem("btrfs", in: work)
        let root = "\(filesystem.mountPoint)/host", machines = "\(filesystem.mountPoint)/host/var/lib/man8machines"
        let source = try layout()
        let first = try pull(root, source, "snap1")
        #expect(first.succeeded, "\(first.stderr)")
        #expect(first.stdout.contains("as a btrfs snapshot of its image tree"), "\(first.stdout)")
        let second = try pull(root, source, "snap2")
        #expect(second.stdout.contains("as a btrfs snapshot of its image tree"), "\(second.stderr)")

        // The second machine shares (nearly) all of its data: what it has alone is mbctl's init.
        let usage = try runCommand(["btrfs", "filesystem", "du", "-s", "--raw", "\(machines)/snap2"]).stdout
        let numbers = usage.split(separator: "\n").last?.split(whereSeparator: { $0 == " " }).compactMap { Double($0) } ?? []
        #expect(numbers.count >= 2, "\(usage)")
        let (total, exclusive) = (numbers.first ?? 0, numbers.count > 1 ? numbers[1] : 0)
        #expect(total > Double(64 << 20) && (total - exclusive) / total >= 0.95, "\(usage)")

        // Isolated from each other and from the tree, which is read-only.
        try "one's".write(toFile: "\(machines)/snap1/app/written", atomically: false, encoding: .utf8)
        #expect(!FileManager.default.fileExists(atPath: "\(machines)/snap2/app/written"))
        let trees = try FileManager.default.contentsOfDirectory(atPath: "\(machines)/.images").filter { $0.hasPrefix("sha256-") }
        #expect(trees.count == 1)
        let tree = "\(machines)/.images/\(trees.first ?? "")"
        #expect(!FileManager.default.fileExists(atPath: "\(tree)/app/written"))
        #expect(!FileManager.default.createFile(atPath: "\(tree)/app/forbidden", contents: Data("x".utf8)))
        #expect(try subvolumes(filesystem).filter { $0.hasSuffix("snap1") || $0.hasSuffix("snap2") || $0.contains(".images/sha256-") }.count == 3)

        // remove deletes the machine's subvolume; prune keeps what a machine uses, then nothing.
        #expect(try mbctl(root, ["machines", "remove", "snap1"]).succeeded)
        #expect(try !subvolumes(filesystem).contains { $0.hasSuffix("snap1") })
        let list = try mbctl(root, ["cache", "list"]).stdout
        #expect(list.contains("\tyes\tsnap2\t"), "\(list)")
        let kept = try mbctl(root, ["cache", "prune"])
        #expect(kept.stdout.contains(", 0 trees and 0 layer chains; kept 1 images"), "\(kept.stdout)\(kept.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(tree)/app/data.bin"))
        #expect(try runCommand(["umoci", "ls", "--layout", "\(root)/var/tmp/man8s"], check: false).succeeded)
        #expect(try mbctl(root, ["machines", "remove", "snap2"]).succeeded)
        let pruned = try mbctl(root, ["cache", "prune"])
        #expect(pruned.stdout.contains(", 1 trees and 1 layer chains; kept 0 images"), "\(pruned.stdout)\(pruned.stderr)")
        let left = try subvolumes(filesystem)
        #expect(left.isEmpty, "\(left)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(machines)/.images").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/var/tmp/man8s/blobs/sha256").isEmpty)
        #expect(try runCommand(["umoci", "ls", "--layout", "\(root)/var/tmp/man8s"], check: false).succeeded)
    }

    /// An image of `layers` (each a list of make-image entries), tagged `tag` in the layout at `directory`.
    func image(_ tag: String, layers: [String], in directory: String) throws -> String {
        let spec = """
            {"tag": "\(tag)", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/app/run.sh"]}, "layers": [
              \(layers.map { "{\"compression\": \"gzip\", \"entries\": [\($0)]}" }.joined(separator: ", "))]}]}
            """
        try spec.write(toFile: "\(work)/\(tag).json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/\(tag).json", directory])
        return "oci:\(directory):\(tag)"
    }

    /// Layer chains: an upgrade to v2 = v1 + one layer applies that layer only, and v2's tree is
    /// what umoci unpacks (its whiteout removes a base file in v2, not in v1); images on one base
    /// store it once; prune leaves no subvolume; a pull killed in the middle of a chain leaves
    /// nothing a later pull uses.
    @Test func btrfsUpgradesApplyOnlyTheLayersThatChanged() throws {
        defer { cleanUp() }
        let filesystem = try LoopFilesystem("btrfs", in: work)
        let root = "\(filesystem.mountPoint)/host", machines = "\(filesystem.mountPoint)/host/var/lib/man8machines"
        let base = """
            {"path": "app", "type": "dir"}, {"path": "app/run.sh", "mode": 493, "content": "#!/bin/sh\\n"}, {"path": "etc", "type": "dir"},
            {"path": "etc/old", "content": "from the base\\n"}, {"path": "app/base.bin", "type": "random", "size": \(48 << 20), "seed": 3}
            """
        let v1 = try image("v1", layers: [base], in: "\(work)/images-\(UUID().uuidString.prefix(8))")
        let v2 = try image(
            "v2", layers: [base, #"{"path": "etc/.wh.old", "content": ""}, {"path": "etc/new", "content": "v2\\n"}"#],
            in: "\(work)/images-\(UUID().uuidString.prefix(8))")
        let v3 = try image("v3", layers: [base, #"{"path": "app/three", "content": "v3\\n"}"#], in: "\(work)/images-\(UUID().uuidString.prefix(8))")
        #expect(try pull(root, v1, "app").succeeded)
        let other = try pull(root, v3, "other")
        let layersOfFirst = (other.stdout + other.stderr).components(separatedBy: "applied layer ").count - 1
        #expect(layersOfFirst == 1, "the base chain was applied again")

        let upgraded = try mbctl(root, ["machines", "upgrade", "app", v2])
        #expect(upgraded.succeeded, "\(upgraded.stderr)")
        let said = upgraded.stdout + upgraded.stderr
        #expect(said.contains("applied layer 2/2") && !said.contains("applied layer 1/2"), "\(said)")
        #expect(!FileManager.default.fileExists(atPath: "\(machines)/app/etc/old") && FileManager.default.fileExists(atPath: "\(machines)/app/etc/new"))
        #expect(FileManager.default.fileExists(atPath: "\(machines)/other/etc/old"))
        // v2's tree against umoci's unpack of v2: the same paths.
        try runCommand(["umoci", "unpack", "--image", "\(v2.dropFirst("oci:".count))", "\(work)/umoci-v2"])
        func paths(_ tree: String) throws -> [String] {
            try runCommand(["sh", "-c", "cd '\(tree)' && find . -mindepth 1 | sort"]).stdout.split(separator: "\n").map(String.init)
        }
        let trees = try FileManager.default.contentsOfDirectory(atPath: "\(machines)/.images").filter { $0.hasPrefix("sha256-") }
        let v2Tree = try trees.first { try paths("\(machines)/.images/\($0)").contains("./etc/new") }
        #expect(try v2Tree.map { try paths("\(machines)/.images/\($0)") } == paths("\(work)/umoci-v2/rootfs"))
        let differences = try runCommand(["diff", "-r", "--no-dereference", "\(work)/umoci-v2/rootfs", "\(machines)/.images/\(v2Tree ?? "")"], check: false)
        #expect(differences.succeeded, "\(differences.stdout)")

        // Three images on one base: one chain of the base, three of the layers above it; the
        // 48 MiB base is stored once.
        let chains = try FileManager.default.contentsOfDirectory(atPath: "\(machines)/.images/chains").filter { $0.hasPrefix("sha256-") }
        #expect(chains.count == 3, "\(chains)")
        // Chains are read-only: a machine's writes never reach them.
        try "mine".write(toFile: "\(machines)/app/app/written", atomically: false, encoding: .utf8)
        for chain in chains {
            #expect(!FileManager.default.createFile(atPath: "\(machines)/.images/chains/\(chain)/x", contents: Data("x".utf8)))
            #expect(!FileManager.default.fileExists(atPath: "\(machines)/.images/chains/\(chain)/app/written"))
        }
        let usage = try runCommand(["btrfs", "filesystem", "du", "-s", "--raw", "\(machines)/.images/chains"]).stdout
        let numbers = usage.split(separator: "\n").last?.split(whereSeparator: { $0 == " " }).compactMap { Double($0) } ?? []
        #expect(numbers.count >= 3 && numbers[0] > Double(48 << 20) && numbers[1] + numbers[2] < Double(60 << 20), "\(usage)")

        // cache list: the base chain serves the trees of all three images.
        let listed = try mbctl(root, ["cache", "list"]).stdout.split(separator: "\n")
        let chainRows = listed.drop { $0 != "CHAIN\tIMAGES" }.dropFirst()
        #expect(chainRows.count == 3 && chainRows.contains { $0.split(separator: "\t").last?.split(separator: ",").count == 3 }, "\(listed)")

        // A pull killed while it makes a chain: its staging subvolume is never used, and goes.
        let bigger = try image(
            "v4", layers: [base, #"{"path": "app/more.bin", "type": "random", "size": \#(96 << 20), "seed": 4}"#],
            in: "\(work)/images-\(UUID().uuidString.prefix(8))")
        let killed = try BackgroundProcess(
            [TestPaths.mbctl] + onTestHost(["machines", "pull", bigger, "killed", "--prefix", MachineLifecycleTests.prefix], root: root),
            logPath: "\(work)/killed.log")
        let deadline = Date().addingTimeInterval(60)
        var staged = false
        while Date() < deadline, killed.process.isRunning {
            staged = (try? FileManager.default.contentsOfDirectory(atPath: "\(machines)/.images/chains"))?.contains { $0.hasPrefix(".sha256-") } ?? false
            if staged { break }
            usleep(20_000)
        }
        killed.stop(abruptly: true)
        #expect(staged, "the pull never began a chain")
        let again = try pull(root, bigger, "killed")
        #expect(again.succeeded, "\(again.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(machines)/.images/chains").allSatisfy { !$0.hasPrefix(".") })
        #expect(FileManager.default.fileExists(atPath: "\(machines)/killed/app/more.bin"))

        // Two pulls at once needing one new base chain: one makes it, the other waits and uses it.
        let otherBase = #"{"path": "srv", "type": "dir"}, {"path": "srv/base.bin", "type": "random", "size": \#(32 << 20), "seed": 8}"#
        let pulls = try ["w", "x"].map { tag in
            let source = try image(tag, layers: [otherBase, #"{"path": "srv/\#(tag)", "content": "\#(tag)\n"}"#], in: "\(work)/images-\(tag)")
            return try BackgroundProcess(
                [TestPaths.mbctl] + onTestHost(["machines", "pull", source, "m-\(tag)", "--prefix", MachineLifecycleTests.prefix], root: root),
                logPath: "\(work)/pull-\(tag).log")
        }
        for pull in pulls { try pull.waitForExit(within: 300) }
        #expect(pulls.allSatisfy { $0.process.terminationStatus == 0 }, "\(pulls.map(\.log))")
        #expect(pulls.filter { $0.log.contains("applied layer 1/2") }.count == 1, "\(pulls.map(\.log))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(machines)/.images/chains").filter { $0.hasPrefix("sha256-") }.count == chains.count + 4)

        // Prune once the machines are gone: no subvolume left.
        for name in ["app", "other", "killed", "m-w", "m-x"] { #expect(try mbctl(root, ["machines", "remove", name]).succeeded) }
        let pruned = try mbctl(root, ["cache", "prune"])
        #expect(pruned.succeeded, "\(pruned.stderr)")
        #expect(try subvolumes(filesystem).isEmpty)
    }

    @Test func xfsMachinesAreReflinkCopies() throws {
        defer { cleanUp() }
        let filesystem = try LoopFilesystem("xfs", in: work)
        let root = "\(filesystem.mountPoint)/host", machines = "\(filesystem.mountPoint)/host/var/lib/man8machines"
        let source = try layout()
        let first = try pull(root, source, "copy1")
        #expect(first.stdout.contains("as a reflink copy of its image tree"), "\(first.stdout)\(first.stderr)")
        let before = try filesystem.used()
        let second = try pull(root, source, "copy2")
        #expect(second.succeeded, "\(second.stderr)")
        // The second machine costs its init, not another 64 MiB.
        let added = try filesystem.used() - before
        #expect(added < 12 << 20, "the second machine took \(added) bytes")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(machines)/copy2/app/data.bin")).count == 64 << 20)
        var info = stat()
        #expect(lstat("\(machines)/copy2/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        try "one's".write(toFile: "\(machines)/copy1/app/data.bin", atomically: false, encoding: .utf8)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(machines)/copy2/app/data.bin")).count == 64 << 20)
        #expect(try mbctl(root, ["machines", "remove", "copy1"]).succeeded)
        #expect(try mbctl(root, ["machines", "remove", "copy2"]).succeeded)
        #expect(try mbctl(root, ["cache", "prune"]).stdout.contains(", 1 trees and"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(machines)").filter { !$0.hasPrefix(".") }.isEmpty)
    }

    @Test func ext4MachinesAreUnpackedAsBefore() throws {
        defer { cleanUp() }
        let filesystem = try LoopFilesystem("ext4", in: work)
        let root = "\(filesystem.mountPoint)/host"
        let pulled = try pull(root, try layout(), "plain1")
        #expect(pulled.stdout.contains("unpacked from its layers"), "\(pulled.stdout)\(pulled.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machines/.images"))
    }
}
