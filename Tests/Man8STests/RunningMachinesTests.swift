import Testing
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
