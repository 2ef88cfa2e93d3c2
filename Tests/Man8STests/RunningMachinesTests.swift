import Foundation
import Testing
import TestSupport
@testable import Man8S

/// Which systemd-nspawn process runs which machine, from its command line alone.
@Suite struct RunningMachinesTests {
    let directories = ["/srv/a/var/lib/man8machines/web", "/srv/a/var/lib/machines/web"]
    let defaults = ["/var/lib/man8machines/web", "/var/lib/machines/web"]

    func nspawn(_ arguments: String...) -> RunningMachines {
        RunningMachines(pid: 1, arguments: ["/usr/bin/systemd-nspawn"] + arguments)
    }

    @Test func aMachineOfTheSameNameUnderAnotherRootIsNotThisOne() {
        #expect(nspawn("-M", "web", "-D", "/srv/a/var/lib/machines/web").matches(name: "web", directories: directories))
        #expect(!nspawn("-M", "web", "-D", "/srv/b/var/lib/machines/web").matches(name: "web", directories: directories))
        #expect(!nspawn("--machine=web", "--directory=/srv/b/var/lib/man8machines/web").matches(name: "web", directories: directories))
        // No directory: nspawn looks in /var/lib/machines, the default layout's.
        #expect(nspawn("--machine=web", "--boot").matches(name: "web", directories: defaults))
        #expect(!nspawn("--machine=web", "--boot").matches(name: "web", directories: directories))
        #expect(!nspawn("-M", "other").matches(name: "web", directories: defaults))
    }

    @Test func messagesNameTheFlagAndThePathOfThisHost() {
        #expect(Man8SError.machineRunning("web", flag: "--restart").description.hasSuffix("pass --restart"))
        #expect(Man8SError.notRunning("web", directory: "/srv/a/var/lib/machines/web").description.hasSuffix("-D /srv/a/var/lib/machines/web"))
        let long = Man8SError.invalidVolume(String(repeating: "v", count: 5000), reason: "too long").description
        #expect(long.count < 300 && long.contains("(5000 characters)"))
    }
}

/// A process of another PID namespace (a machine's) that calls itself systemd-nspawn is not
/// taken for a running machine.
@Suite(.timeLimit(.minutes(1))) struct ImpostorNspawnTests {
    @Test func aProcessInsideAMachineCannotPassForAnNspawnOfTheHost() throws {
        let marker = "/var/lib/man8machines/impostor-\(UUID().uuidString.prefix(8))"
        let log = NSTemporaryDirectory() + "mbctl-impostor-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        // `exec -a` names a waiting shell systemd-nspawn, with `-D MARKER` among its arguments,
        // in a PID namespace of its own (`; :` keeps the shell from becoming `sleep`).
        let impostor = try BackgroundProcess(
            ["unshare", "--pid", "--fork", "bash", "-c", "exec -a systemd-nspawn bash -c 'sleep 60; :' -D \(marker)"], logPath: log)
        defer { impostor.stop(abruptly: true) }
        // The impostor is in /proc (what an unguarded scan would find) before the check.
        var seen = false
        for _ in 0..<500 where !seen {
            seen = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).contains { entry in
                guard Int32(entry) != nil, let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
                return String(decoding: data, as: UTF8.self).hasPrefix("systemd-nspawn\u{0}") && String(decoding: data, as: UTF8.self).contains(marker)
            }
            if !seen { usleep(10_000) }
        }
        #expect(seen, "the impostor did not start")
        #expect(!RunningMachines.scan().contains { $0.directory == marker })
    }
}
