import Foundation
import Testing

/// `machines pull` of images that attack the host through the machine layer: volumes that are
/// symlinks or climb with `..`, seed data that would multiply, `Env` that claims mbctl's keys,
/// setuid files, a planted cache, concurrent and killed pulls. Each runs the real mbctl under
/// `--root`, and each checks that nothing outside the machine's own directories changed.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HostileImageTests {
    let work: String
    var root: String { "\(work)/host" }
    /// Host directories an attack aims at: they must stay as they are.
    var victim: String { "\(work)/victim" }
    static let prefix = "300:2e98:a4b0:1789::/64"

    init() throws {
        work = NSTemporaryDirectory() + "mbctl-hostile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(work)/victim/cron.d", withIntermediateDirectories: true)
        try "host file".write(toFile: "\(work)/victim/cron.d/host-job", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(work)/host", withIntermediateDirectories: true)
    }

    func cleanUp() { if ProcessInfo.processInfo.environment["KEEP"] == nil { try? FileManager.default.removeItem(atPath: work) } }

    /// An `oci:` layout of `spec`'s image, tagged `t`.
    func layout(_ name: String, _ spec: String) throws -> String {
        try spec.write(toFile: "\(work)/\(name).json", atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(TestPaths.fixtures)/make-image.py", "\(work)/\(name).json", "\(work)/\(name)"])
        return "oci:\(work)/\(name):t"
    }

    /// An image of one layer with `entries`, `Volumes` and `Env`.
    func image(_ name: String, entries: String, volumes: [String], env: [String] = [], extraLayer: String? = nil) throws -> String {
        let volumeJSON = volumes.map { "\"\($0)\": {}" }.joined(separator: ", ")
        let envJSON = env.map { "\"\($0)\"" }.joined(separator: ", ")
        let layers = ["{\"entries\": [\(entries)]}"] + (extraLayer.map { [$0] } ?? [])
        return try layout(
            name,
            """
            {"tag": "t", "images": [{"platform": "linux/amd64",
              "config": {"Cmd": ["/bin/true"], "Env": [\(envJSON)], "Volumes": {\(volumeJSON)}},
              "layers": [\(layers.joined(separator: ", "))]}]}
            """)
    }

    func mbctl(_ arguments: [String]) throws -> CommandResult {
        try runMbctl(onTestHost(arguments, root: root))
    }

    func pull(_ source: String, _ name: String, _ volumes: [String] = []) throws -> CommandResult {
        try mbctl(["machines", "pull", source, name, "--prefix", Self.prefix] + volumes.flatMap { ["--volume", $0] })
    }

    /// Every path below `directory` with its kind, mode and owner (and a symlink's target).
    func snapshot(_ directory: String, excluding excluded: [String] = []) -> [String: String] {
        var entries: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let relative = enumerator?.nextObject() as? String {
            if excluded.contains(where: { relative == $0 || relative.hasPrefix($0 + "/") }) { continue }
            var info = stat()
            guard lstat("\(directory)/\(relative)", &info) == 0 else { continue }
            let target =
                (info.st_mode & S_IFMT) == S_IFLNK ? (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(relative)")) ?? "" : ""
            entries[relative] = "\(info.st_mode) \(info.st_uid) \(info.st_size) \(target)"
        }
        return entries
    }

    /// The host as a failed pull must leave it: the root (but the cache) and the victim.
    func hostSnapshot() -> [String: String] {
        snapshot(root, excluding: ["var/tmp/man8s"]).merging(snapshot(victim).mapKeys { "victim/\($0)" }) { $1 }
    }

    func isRealDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// A 16 MiB image in a loopback registry, pulled at 4 MB/s (``slowly``): a pull of it takes
    /// four seconds, in which another process can act for sure.
    func slowImage() throws -> (registry: TestRegistry, image: String) {
        let registry = try TestRegistry()
        try registry.push(
            spec: """
                {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"]}, "layers": [
                  {"compression": "none", "entries": [{"path": "blob.bin", "type": "random", "size": \(16 << 20), "seed": 3}]}]}]}
                """, as: "apps/slow", tag: "t")
        return (registry, "\(registry.host)/apps/slow:t")
    }

    static let slowly = ["--limit-rate", "4000000"]

    // MARK: 1. Volumes that are symlinks

    @Test func aVolumeThatIsASymlinkToAHostPathGetsARealDirectoryOfItsOwn() throws {
        defer { cleanUp() }
        let source = try image(
            "abs",
            entries: """
                {"path": "data", "type": "symlink", "target": "\(victim)"},
                {"path": "rel", "type": "symlink", "target": "../../../../../../..\(victim)"}
                """, volumes: ["/data", "/rel"])
        let before = snapshot(victim)
        let pulled = try pull(source, "abs1", ["/data=data", "/rel=config"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        let data = "\(root)/var/lib/man8machine_storage/abs1/data", rel = "\(root)/var/lib/man8machine_configs/abs1/rel"
        #expect(isRealDirectory(data) && isRealDirectory(rel))
        // Nothing of the host's victim directory was copied in (it is not in the image).
        #expect(try FileManager.default.contentsOfDirectory(atPath: data).isEmpty)
        let nspawn = try String(contentsOfFile: "\(root)/etc/systemd/nspawn/abs1.nspawn", encoding: .utf8)
        #expect(nspawn.contains("Bind=\(data):/data:idmap\n"))
        #expect(nspawn.contains("Bind=\(rel):/rel:idmap\n"))
        #expect(snapshot(victim) == before)
    }

    @Test func aVolumeThatLeadsToTheImagesRootIsRefused() throws {
        defer { cleanUp() }
        let plain = try image("plain", entries: "{\"path\": \"f\", \"content\": \"f\"}", volumes: [])
        #expect(try pull(plain, "plain").succeeded)  // the host's directories, as a successful pull makes them
        for (index, target) in ["/", "../../../..", "."].enumerated() {
            let source = try image("root\(index)", entries: "{\"path\": \"data\", \"type\": \"symlink\", \"target\": \"\(target)\"}", volumes: ["/data"])
            let before = hostSnapshot()
            let pulled = try pull(source, "root\(index)", ["/data=data"])
            #expect(!pulled.succeeded)
            #expect(pulled.stderr.contains("invalid volume \"/data\": it leads to the image's root directory"), "\(target): \(pulled.stderr)")
            #expect(hostSnapshot() == before, "\(target)")
        }
    }

    // MARK: 2. Volume names that climb, nested volumes

    @Test func volumeNamesAreNormalizedAndStayBelowTheMachinesDirectories() throws {
        defer { cleanUp() }
        let source = try image(
            "climb",
            entries: """
                {"path": "x", "type": "dir"}, {"path": "x/cron.d", "type": "dir"}, {"path": "x/cron.d/evil", "content": "* * * * * root evil"}
                """, volumes: ["/../../../../../x/cron.d"])
        let before = snapshot(victim)
        let pulled = try pull(source, "climb1", ["/x/cron.d=config"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machine_configs/climb1/x/cron.d/evil"))
        #expect(try String(contentsOfFile: "\(root)/etc/systemd/nspawn/climb1.nspawn", encoding: .utf8).contains(":/x/cron.d:idmap\n"))
        #expect(snapshot(victim) == before)
        #expect(!FileManager.default.fileExists(atPath: "\(work)/x"))

        // A name that climbs to / is no volume at all.
        let rootVolume = try image("toroot", entries: "{\"path\": \"data\", \"type\": \"dir\"}", volumes: ["/data/../../.."])
        let refused = try pull(rootVolume, "climb2", ["/=data"])
        #expect(refused.stderr.contains("a volume cannot be the machine's root directory"), "\(refused.stderr)")
        let relative = try image("relative", entries: "{\"path\": \"data\", \"type\": \"dir\"}", volumes: ["data"])
        #expect(try pull(relative, "climb3", ["/data=data"]).stderr.contains("invalid volume \"data\": not an absolute path"))
    }

    @Test func nestedVolumesUnderASymlinkStayInTheMachine() throws {
        defer { cleanUp() }
        // /srv/app points at the host's victim directory by its absolute path; the image holds a
        // tree of that name, with cron.d/evil in it.
        let source = try image(
            "nested",
            entries: """
                {"path": "srv", "type": "dir"}, {"path": "srv/app", "type": "symlink", "target": "\(victim)"},
                {"path": "\(victim.dropFirst())", "type": "dir"}, {"path": "\(victim.dropFirst())/cron.d", "type": "dir"},
                {"path": "\(victim.dropFirst())/cron.d/evil", "content": "* * * * * root evil"},
                {"path": "\(victim.dropFirst())/cron.d/link", "type": "symlink", "target": "\(victim)/cron.d/host-job"}
                """, volumes: ["/srv/app", "/srv/app/cron.d"])
        let before = snapshot(victim)
        let pulled = try pull(source, "nest1", ["/srv/app=data", "/srv/app/cron.d=data"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        let app = "\(root)/var/lib/man8machine_storage/nest1/srv/app"
        #expect(isRealDirectory(app) && isRealDirectory("\(app)/cron.d"))
        #expect(try String(contentsOfFile: "\(app)/cron.d/evil", encoding: .utf8) == "* * * * * root evil")
        // The image's symlink is copied as a symlink, not followed to the host's file.
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(app)/cron.d/link") == "\(victim)/cron.d/host-job")
        #expect(snapshot(victim) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(victim)/cron.d") == ["host-job"])
    }

    @Test func aCustomHostDirectoryIsSeededWithoutFollowingTheImagesLinks() throws {
        defer { cleanUp() }
        let source = try image(
            "custom",
            entries: """
                {"path": "v", "type": "dir"}, {"path": "v/escape", "type": "symlink", "target": "\(victim)/cron.d"},
                {"path": "v/escape2", "type": "symlink", "target": "../../../../../../../../.."},
                {"path": "v/sub", "type": "dir"}, {"path": "v/sub/seed", "content": "seed"}
                """, volumes: ["/v"])
        let before = snapshot(victim)
        let custom = "\(work)/custom-volume"
        let pulled = try pull(source, "custom1", ["/v=\(custom)"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(custom)/escape") == "\(victim)/cron.d")
        #expect(try String(contentsOfFile: "\(custom)/sub/seed", encoding: .utf8) == "seed")
        #expect(try String(contentsOfFile: "\(root)/etc/systemd/nspawn/custom1.nspawn", encoding: .utf8).contains("Bind=\(custom):/v:idmap\n"))
        #expect(snapshot(victim) == before)
        // It must not exist yet: the operator's directories are never filled by a pull.
        let again = try pull(source, "custom2", ["/v=\(victim)"])
        #expect(again.stderr.contains("a custom volume directory must not exist yet"), "\(again.stderr)")
    }

    // MARK: 3. A failing pull beside existing machines

    @Test func aFailingPullRemovesOnlyWhatItMade() throws {
        defer { cleanUp() }
        let good = try image("good", entries: "{\"path\": \"d\", \"type\": \"dir\"}, {\"path\": \"d/seed\", \"content\": \"s\"}", volumes: ["/d"])
        #expect(try pull(good, "keep1", ["/d=data"]).succeeded)
        try "the user's".write(toFile: "\(root)/var/lib/man8machine_storage/keep1/d/seed", atomically: false, encoding: .utf8)
        // The name that fails has configuration left by an earlier machine: it is the user's.
        try FileManager.default.createDirectory(atPath: "\(root)/var/lib/man8machine_configs/fail1", withIntermediateDirectories: true)
        try "mine".write(toFile: "\(root)/var/lib/man8machine_configs/fail1/notes", atomically: false, encoding: .utf8)

        // Volumes that climb to the other machines' directories, and one that fails the seed copy
        // after the others were made (the image has a file where the volume is).
        let bad = try image(
            "bad",
            entries: """
                {"path": "a", "type": "dir"}, {"path": "a/x", "content": "x"}, {"path": "zz", "content": "a file, not a directory"}
                """, volumes: ["/a/../..", "/a", "/../../keep1", "/zz"])
        let before = hostSnapshot()
        let failed = try pull(bad, "fail1", ["/a=data", "/keep1=config", "/zz=data"])
        #expect(failed.stderr.contains("a volume cannot be the machine's root directory"), "\(failed.stderr)")
        let bad2 = try image(
            "bad2",
            entries: """
                {"path": "a", "type": "dir"}, {"path": "a/x", "content": "x"}, {"path": "zz", "content": "a file, not a directory"}
                """, volumes: ["/a", "/../../keep1", "/zz"])
        let failed2 = try pull(bad2, "fail1", ["/a=data", "/keep1=config", "/zz=data"])
        #expect(failed2.stderr.contains("invalid volume \"/zz\": the image has a file there, not a directory"), "\(failed2.stderr)")
        #expect(hostSnapshot() == before)
        #expect(try String(contentsOfFile: "\(root)/var/lib/man8machine_storage/keep1/d/seed", encoding: .utf8) == "the user's")
        #expect(try String(contentsOfFile: "\(root)/var/lib/man8machine_configs/fail1/notes", encoding: .utf8) == "mine")
        #expect(try mbctl(["machines", "list"]).stdout.contains("keep1\tno"))
    }

    // MARK: 4. Concurrent pulls

    /// Starts a pull in the background and waits until it holds the machine's lock (its note
    /// names its PID), so that what runs next overlaps it for sure.
    func startPull(_ source: String, _ name: String, log: String) throws -> BackgroundProcess {
        let pull = try BackgroundProcess(
            [TestPaths.mbctl, "machines", "pull", source, name, "--prefix", Self.prefix, "--root", root, "--busybox", MachineLifecycleTests.busybox]
                + Self.slowly,
            logPath: log, environment: mbctlEnvironment())
        let note = "\(root)/var/lib/man8machines/.locks/\(name).lock"
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, pull.process.isRunning,
            !((try? String(contentsOfFile: note, encoding: .utf8)) ?? "").contains("pid=\(pull.process.processIdentifier) ")
        {
            usleep(5_000)
        }
        return pull
    }

    @Test func aSecondPullOfTheSameNameFailsAtOnceAndTakesNothing() throws {
        defer { cleanUp() }
        let (registry, slow) = try slowImage()
        for round in 0..<2 {
            let first = try startPull(slow, "same", log: "\(work)/first\(round).log")
            let second = try pull(slow, "same")
            try first.waitForExit()
            #expect(first.process.terminationStatus == 0, "\(first.log)")
            #expect(!second.succeeded)
            #expect(second.stderr.contains("machine same is being made by process \(first.process.processIdentifier)"), "\(second.stderr)")
            for path in [
                "var/lib/man8machines/same/sbin/busybox-init.sh", "etc/systemd/nspawn/same.nspawn", "var/lib/machines/same",
                "var/lib/man8machine_configs/same/man8env.env",
            ] {
                #expect(FileManager.default.fileExists(atPath: "\(root)/\(path)"), "round \(round): \(path)")
            }
            #expect(try mbctl(["machines", "remove", "same"]).succeeded)
            #expect(try mbctl(["cache", "clear"]).succeeded)  // the next round downloads slowly again
        }
        _ = registry
    }

    @Test func aFailingPullOfAnotherNameLeavesARunningOneAlone() throws {
        defer { cleanUp() }
        let (registry, slow) = try slowImage()
        let broken = try image("broken", entries: "{\"path\": \"zz\", \"content\": \"file\"}", volumes: ["/zz"])
        for round in 0..<2 {
            let good = try startPull(slow, "good\(round)", log: "\(work)/good\(round).log")
            let failed = try pull(broken, "bad\(round)", ["/zz=data"])
            #expect(!failed.succeeded)
            try good.waitForExit()
            #expect(good.process.terminationStatus == 0, "\(good.log)")
            #expect(FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machines/good\(round)/sbin/busybox-init.sh"))
            let staging = try FileManager.default.contentsOfDirectory(atPath: "\(root)/var/lib/man8machines").filter { $0.contains(".mbctl-") }
            #expect(staging.isEmpty, "\(staging)")
            #expect(try mbctl(["cache", "clear"]).succeeded)
        }
        _ = registry
    }

    @Test func anAddressClaimedByAPullInProgressIsNotGivenTwice() throws {
        defer { cleanUp() }
        let small = try image("small", entries: "{\"path\": \"f\", \"content\": \"f\"}", volumes: [])
        #expect(try pull(small, "first").succeeded)  // makes the host's directories
        // Another process holds the lock of a machine it is making and claims the address that
        // "wanted" would get: a real open-file-description lock, as mbctl takes it.
        let address = try runMbctl(["address", "getsuffix", "wanted", "--prefix", Self.prefix]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let wholeAddress = address
        let ready = "\(work)/holder.ready"
        let holder = try BackgroundProcess(
            [
                "python3", "-c",
                """
                import fcntl, os, struct, sys, time
                fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
                os.write(fd, ("pid=%d doing=made address=%s\\n" % (os.getpid(), sys.argv[2])).encode())
                open(sys.argv[3], "w").close()
                time.sleep(600)
                """, "\(root)/var/lib/man8machines/.locks/claimer.lock", wholeAddress, ready,
            ], logPath: "\(work)/holder.log")
        defer { holder.stop(abruptly: true) }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !FileManager.default.fileExists(atPath: ready) { usleep(5_000) }
        let refused = try pull(small, "wanted")
        #expect(
            refused.stderr.contains("machine wanted would get yggdrasil address \(wholeAddress), which machine claimer already has"),
            "\(refused.stderr)\n\(holder.log)")
        // Once the holder is gone (killed: the kernel drops its lock), its note means nothing.
        holder.stop(abruptly: true)
        let made = try pull(small, "wanted")
        #expect(made.succeeded, "\(made.stderr)")
    }

    // MARK: 5. mbctl's keys

    @Test func theImageCannotSetMbctlsKeys() throws {
        defer { cleanUp() }
        let source = try image(
            "keys", entries: "{\"path\": \"f\", \"content\": \"f\"}", volumes: [],
            env: [
                "MAN8S_YGGDRASIL_ADDRESS=300:2e98:a4b0:1789::1", "MAN8S_CONTAINER_NAME=other", "MAN8S_OCI_IMAGE_DIGEST=sha256:forged",
                "bad key=x", "GOOD=kept",
            ])
        let pulled = try pull(source, "keys1")
        #expect(pulled.succeeded, "\(pulled.stderr)")
        #expect(pulled.stderr.contains("warning: the image sets MAN8S_YGGDRASIL_ADDRESS, which is mbctl's to set; left out"))
        #expect(pulled.stderr.contains("warning: the image's Env key \"bad key\" is not a variable name"))
        let environment = try String(contentsOfFile: "\(root)/var/lib/man8machine_configs/keys1/man8env.env", encoding: .utf8)
        let address = try runMbctl(["address", "getsuffix", "keys1", "--prefix", Self.prefix]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(environment.components(separatedBy: "MAN8S_YGGDRASIL_ADDRESS=").count == 2)
        #expect(environment.contains("MAN8S_YGGDRASIL_ADDRESS=\(address)\n"))
        #expect(environment.contains("MAN8S_CONTAINER_NAME=keys1\n") && !environment.contains("=other"))
        #expect(!environment.contains("forged") && environment.contains("GOOD=kept\n"))
        let list = try mbctl(["machines", "list"]).stdout
        #expect(list.contains("keys1\tno\t-\t-\t\(address)\t"), "\(list)")
    }

    // MARK: 6. Permissions

    @Test func noHostUserReachesTheMachinesFiles() throws {
        defer { cleanUp() }
        let source = try image(
            "suid",
            entries: """
                {"path": "bin", "type": "dir"}, {"path": "bin/suid", "content": "#!/bin/sh\\n", "mode": 3565},
                {"path": "dev", "type": "dir"}, {"path": "dev/null", "type": "chardev", "major": 1, "minor": 3, "mode": 438},
                {"path": "data", "type": "dir", "mode": 511}, {"path": "data/suid", "content": "x", "mode": 3565},
                {"path": ".", "type": "dir", "mode": 511}
                """, volumes: ["/data"])
        let pulled = try pull(source, "perm1", ["/data=data"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        var info = stat()
        for (path, mode) in [("var/lib/man8machines", 0o700), ("var/lib/man8machine_configs/perm1", 0o700), ("var/lib/man8machine_storage/perm1", 0o700)] {
            #expect(stat("\(root)/\(path)", &info) == 0 && info.st_mode & 0o7777 == mode_t(mode), "\(path): \(String(info.st_mode & 0o7777, radix: 8))")
        }
        // The image's modes apply inside: its setuid file is still setuid in the data volume.
        #expect(stat("\(root)/var/lib/man8machine_storage/perm1/data/suid", &info) == 0 && info.st_mode & 0o4000 != 0)
        for path in [
            "var/lib/man8machines/perm1/bin/suid", "var/lib/machines/perm1/bin/suid", "var/lib/man8machines/perm1/dev/null",
            "var/lib/man8machine_storage/perm1/data/suid", "var/lib/man8machine_configs/perm1/man8env.env",
        ] {
            let asNobody = try runCommand(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "stat", "\(root)/\(path)"], check: false)
            #expect(!asNobody.succeeded && asNobody.stderr.contains("Permission denied"), "nobody reached \(path): \(asNobody.stdout)")
        }
        // A host that an older mbctl left open is narrowed, and the operator is told.
        #expect(chmod("\(root)/var/lib/man8machines", 0o755) == 0)
        let again = try pull(source, "perm2", ["/data=data"])
        #expect(again.stderr.contains("made \(root)/var/lib/man8machines private (mode 0700)"), "\(again.stderr)")
        #expect(stat("\(root)/var/lib/man8machines", &info) == 0 && info.st_mode & 0o7777 == 0o700)
    }

    // MARK: 7. The cache

    @Test func aPlantedOrForeignCacheIsRefused() throws {
        defer { cleanUp() }
        let source = try image("cache", entries: "{\"path\": \"f\", \"content\": \"f\"}", volumes: [])
        // /var/tmp below the root is world-writable, as on a host.
        try FileManager.default.createDirectory(atPath: "\(root)/var/tmp", withIntermediateDirectories: true)
        #expect(chmod("\(root)/var/tmp", 0o1777) == 0)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/var/tmp/man8s", withDestinationPath: victim)
        let before = snapshot(victim)
        let pulled = try mbctl(["machines", "pull", "docker://127.0.0.1:1/never/pulled:t", "c1", "--prefix", Self.prefix])
        #expect(pulled.stderr.contains("\(root)/var/tmp/man8s: is a symlink"), "\(pulled.stderr)")
        let cleared = try mbctl(["cache", "clear"])
        #expect(!cleared.succeeded && cleared.stderr.contains("is a symlink"), "\(cleared.stderr)")
        let copied = try runMbctl(["oci", "copy", source, "oci-archive:\(work)/out.tar", "--cache-dir", "\(root)/var/tmp/man8s"])
        #expect(copied.stderr.contains("is a symlink"), "\(copied.stderr)")
        #expect(snapshot(victim) == before)

        // A cache another user made first.
        try FileManager.default.removeItem(atPath: "\(root)/var/tmp/man8s")
        try FileManager.default.createDirectory(atPath: "\(root)/var/tmp/man8s", withIntermediateDirectories: false)
        #expect(chown("\(root)/var/tmp/man8s", 65534, 65534) == 0)
        let foreign = try mbctl(["cache", "clear"])
        #expect(foreign.stderr.contains("\(root)/var/tmp/man8s: belongs to user 65534"), "\(foreign.stderr)")
        // Made by mbctl itself: private.
        try FileManager.default.removeItem(atPath: "\(root)/var/tmp/man8s")
        #expect(try runMbctl(["oci", "copy", source, "oci:\(work)/copy:t", "--cache-dir", "\(root)/var/tmp/man8s"]).succeeded)
        let archive = try runMbctl(["oci", "copy", source, "oci-archive:\(work)/out.tar", "--cache-dir", "\(root)/var/tmp/man8s"])
        #expect(archive.succeeded, "\(archive.stderr)")
        var info = stat()
        #expect(lstat("\(root)/var/tmp/man8s", &info) == 0 && info.st_mode & 0o7777 == 0o700)
    }

    // MARK: 8. Seed data that would multiply

    @Test func sparseAndHardlinkedSeedDataTakesNoMoreDiskThanTheImage() throws {
        defer { cleanUp() }
        let tree = "\(work)/tree"
        try FileManager.default.createDirectory(atPath: "\(tree)/data/links", withIntermediateDirectories: true)
        // A 2 GiB file of holes, and 2,000 links of one 1 MiB file.
        try runCommand(["truncate", "-s", "2G", "\(tree)/data/sparse"])
        try runCommand(["dd", "if=/dev/urandom", "of=\(tree)/data/links/0", "bs=1M", "count=1", "status=none"])
        for index in 1..<2000 { #expect(link("\(tree)/data/links/0", "\(tree)/data/links/\(index)") == 0) }
        let source = try layout(
            "multiply",
            """
            {"tag": "t", "images": [{"platform": "linux/amd64", "config": {"Cmd": ["/bin/true"], "Volumes": {"/data": {}}},
              "layers": [{"gnutar": "\(tree)", "sparse": true}]}]}
            """)
        try FileManager.default.removeItem(atPath: tree)
        let pulled = try pull(source, "many1", ["/data=data"])
        #expect(pulled.succeeded, "\(pulled.stderr)")
        let data = "\(root)/var/lib/man8machine_storage/many1/data"
        let used = try runCommand(["du", "-s", "--block-size=1M", data]).stdout.split(separator: "\t").first.flatMap { Int($0) } ?? -1
        #expect(used >= 1 && used < 8, "the seed copy takes \(used) MiB")
        var info = stat()
        #expect(stat("\(data)/sparse", &info) == 0 && info.st_size == 2 << 30)
        #expect(stat("\(data)/links/1999", &info) == 0 && info.st_nlink == 2000)
    }

    // MARK: 9. A killed pull

    @Test func aPullKilledAnywhereIsCleanedUpByTheNext() throws {
        defer { cleanUp() }
        let (registry, slow) = try slowImage()
        let pull = try BackgroundProcess(
            [TestPaths.mbctl, "machines", "pull", slow, "dead", "--prefix", Self.prefix, "--root", root, "--busybox", MachineLifecycleTests.busybox]
                + Self.slowly,
            logPath: "\(work)/dead.log", environment: mbctlEnvironment())
        // Killed while it downloads into its staging directory.
        let deadline = Date().addingTimeInterval(30)
        var staging: [String] = []
        while Date() < deadline && staging.isEmpty {
            staging = ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/var/lib/man8machines")) ?? []).filter { $0.hasPrefix(".dead.mbctl-") }
            usleep(5_000)
        }
        #expect(!staging.isEmpty)
        pull.stop(abruptly: true)
        #expect(FileManager.default.fileExists(atPath: "\(root)/var/lib/man8machines/\(staging.first ?? "-")"))

        let again = try mbctl(["machines", "pull", slow, "dead", "--prefix", Self.prefix])
        #expect(again.succeeded, "\(again.stderr)")
        #expect(again.stderr.contains("removed \(root)/var/lib/man8machines/\(staging.first ?? "-"), left by an mbctl that was killed"), "\(again.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(root)/var/lib/man8machines").filter { $0.contains(".mbctl-") }
        #expect(left.isEmpty, "\(left)")
        _ = registry
    }
}

extension Dictionary {
    func mapKeys<Other: Hashable>(_ transform: (Key) -> Other) -> [Other: Value] {
        Dictionary<Other, Value>(uniqueKeysWithValues: map { (transform($0.key), $0.value) })
    }
}
