import Foundation
import ImageAccess
import OCILayout
import Testing
import TestSupport
@testable import Man8S

/// Names between machines: the hosts file mbctl keeps for each machine (every machine as NAME and
/// NAME.man8s.local, the operator's `--add-host`, the image's own entries), the resolver file of
/// `--dns`, and what an image or an operator cannot put in them. On a layout under a test
/// directory; the systemd test host shows them resolving inside running machines.
@Suite(.timeLimit(.minutes(1))) struct MachineNamesTests {
    let base: MachineBuildTests
    var layout: HostLayout { base.layout }

    init() throws { base = try MachineBuildTests() }

    func pull(_ name: String, image entries: [UstarArchive.Entry] = MachineBuildTests.app, settings: MachineSettings = MachineSettings()) async throws {
        let (location, _) = try base.image(name, entries)
        var pull = MachinePull(build: base.build)
        pull.settings = settings
        pull.checksHost = false
        _ = try await pull.pull(location, as: "oci:images:\(name)", name: try MachineName(name), prefix: base.prefix)
    }

    func configure(_ name: String, _ change: SettingsChange) throws -> MachineConfigure.Outcome {
        var configure = MachineConfigure(layout: layout)
        configure.checksHost = false
        return try configure.configure(try MachineName(name), change, restart: false)
    }

    func hosts(_ name: String) throws -> String { try String(contentsOfFile: layout.hostsFile(of: try MachineName(name)), encoding: .utf8) }
    func inode(_ path: String) throws -> UInt64 { try #require(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? UInt64) }
    func address(_ name: String) throws -> String { YggdrasilAddress(machineName: name, prefix: base.prefix).description }

    @Test func hostEntriesHoldOnlyAddressesAndNames() throws {
        #expect(try HostsEntry(parsing: "backup:fd00::5") == HostsEntry(address: "fd00::5", names: ["backup"]))
        #expect(try HostsEntry(parsing: "db.internal:10.0.0.2").description == "10.0.0.2 db.internal")
        for bad in ["backup", ":10.0.0.2", "a b:10.0.0.2", "x:10.0.0.256", "x:10.0.0.2\n1.2.3.4 evil", "-x:10.0.0.2", "x:fe80::1%eth0", "x..y:1.2.3.4"] {
            #expect(throws: Man8SError.self, "\(bad)") { try HostsEntry(parsing: bad) }
        }
        // An image's hosts file: comments, junk and lines that would smuggle anything are left out.
        let parsed = HostsEntry.parse(
            "# comment\n127.0.0.1\tlocalhost  # trailing\n\n::1 ip6-localhost\nnot-an-address name\n10.0.0.9 bad$name\n10.0.0.7 ok\r\n")
        #expect(parsed.map(\.description) == ["127.0.0.1 localhost", "::1 ip6-localhost", "10.0.0.7 ok"])
        #expect(try ResolverChoice(parsing: "host") == .host)
        #expect(try ResolverChoice(parsing: "9.9.9.9") == .address("9.9.9.9"))
        #expect(try ResolverChoice(parsing: "resolver") == .machine(try MachineName("resolver")))
        #expect(throws: Man8SError.self) { try ResolverChoice(parsing: "a/b") }
    }

    @Test func everyMachineKnowsEveryMachineAndTheImagesOwnEntriesStay() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try await pull(
            "web", image: MachineBuildTests.app + [.directory("etc"), .file("etc/hosts", contents: "127.0.0.1 localhost\n10.9.9.9 legacy legacy.lan\n")])
        let web = try hosts("web")
        #expect(web.contains("\(try address("web")) web web.man8s.local\n"), "\(web)")
        #expect(web.contains("\n10.9.9.9 legacy legacy.lan\n") && web.contains("127.0.0.1 localhost\n") && !web.contains("ip6-loopback"))
        let path = layout.hostsFile(of: try MachineName("web"))
        let before = try inode(path)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o644)
        #expect(try String(contentsOfFile: layout.nspawnFile(of: try MachineName("web")), encoding: .utf8).contains("BindReadOnly=\(path):/etc/hosts\n"))

        // A new machine: known to the first at once, in the same file (bound into a running
        // machine, a new file renamed over it would go unseen); the image without entries gets
        // localhost's.
        try await pull("db")
        #expect(try hosts("web").contains("\(try address("db")) db db.man8s.local\n"))
        #expect(try inode(path) == before)
        let db = try hosts("db")
        #expect(db.contains("web web.man8s.local") && db.contains("::1 localhost ip6-localhost ip6-loopback\n"))

        // Added hosts come first (the first line naming a host wins); removing one rewrites in place.
        var add = SettingsChange()
        add.addHosts = [try HostsEntry(parsing: "backup:fd00::5")]
        #expect(try configure("web", add).changed)
        let added = try hosts("web")
        let backup = try #require(added.range(of: "fd00::5 backup\n")), machines = try #require(added.range(of: "web.man8s.local"))
        #expect(backup.lowerBound < machines.lowerBound)
        var remove = SettingsChange()
        remove.removeHosts = ["backup"]
        #expect(try configure("web", remove).changed)
        #expect(try !hosts("web").contains("backup") && inode(path) == before)

        // A removed machine is forgotten by the others at once.
        _ = try MachineRemoval(layout: layout).remove(try MachineName("db"))
        #expect(try !hosts("web").contains(" db "))
        #expect(try inode(path) == before)
    }

    @Test func aMachineAsDNSServerResolvesToItsAddressAndStaysWhileUsed() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try await pull("resolver")
        try await pull("web")
        let name = try MachineName("web")
        var dns = SettingsChange()
        dns.dns = .set(try ResolverChoice(parsing: "resolver"))
        #expect(try configure("web", dns).changed)
        #expect(try String(contentsOfFile: layout.resolverFile(of: name), encoding: .utf8).contains("nameserver \(try address("resolver"))\n"))
        let nspawn = try String(contentsOfFile: layout.nspawnFile(of: name), encoding: .utf8)
        #expect(nspawn.contains("ResolvConf=off\n") && nspawn.contains("BindReadOnly=\(layout.resolverFile(of: name)):/etc/resolv.conf\n"))
        #expect(refusal { _ = try MachineRemoval(layout: layout).remove(try MachineName("resolver")) }.contains("machine resolver is required by web"))

        var itself = SettingsChange()
        itself.dns = .set(.machine(name))
        #expect(refusal { _ = try configure("web", itself) }.contains("a machine cannot be its own DNS server"))
        var missing = SettingsChange()
        missing.dns = .set(.machine(try MachineName("nosuch")))
        #expect(refusal { _ = try configure("web", missing) }.contains("there is no machine nosuch"))

        var clear = SettingsChange()
        clear.dns = .clear
        #expect(try configure("web", clear).changed)
        #expect(!FileManager.default.fileExists(atPath: layout.resolverFile(of: name)))
        #expect(try String(contentsOfFile: layout.nspawnFile(of: name), encoding: .utf8).contains("ResolvConf=copy-stub\n"))
        _ = try MachineRemoval(layout: layout).remove(try MachineName("resolver"))
    }

    /// The image's `/etc/hosts` is read where the image put it, never through a link to the host.
    @Test func anImageHostsFileThatIsALinkIsNotFollowed() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try FileManager.default.createDirectory(atPath: base.root, withIntermediateDirectories: true)
        let outside = "\(base.root)/outside-hosts"
        try "10.6.6.6 planted\n".write(toFile: outside, atomically: true, encoding: .utf8)
        try await pull("web", image: MachineBuildTests.app + [.directory("etc"), .symlink("etc/hosts", target: outside)])
        let web = try hosts("web")
        #expect(!web.contains("planted") && web.contains("127.0.0.1 localhost\n"))
    }

    /// A record edited to hold a line break is damaged, never written into a hosts file.
    @Test func aSettingsRecordWithALineBreakInAHostIsDamaged() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.root) }
        try await pull("web")
        let record = "\(layout.machines)/.generations/web/settings.json"
        let directories = try #require(try MachineDirectories.openExisting(layout))
        for text in [#"{"hosts": [{"address": "10.0.0.1", "names": ["a\n10.6.6.6 evil"]}]}"#, #"{"dns": "1.2.3.4\nnameserver 6.6.6.6"}"#] {
            try text.write(toFile: record, atomically: false, encoding: .utf8)
            #expect(throws: Man8SError.self, "\(text)") { try MachineSettings.read(of: try MachineName("web"), in: directories) }
        }
    }
}
