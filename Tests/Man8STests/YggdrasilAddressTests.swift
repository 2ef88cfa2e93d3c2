import Foundation
import Testing
@testable import Man8S

@Suite struct YggdrasilAddressTests {
    /// The vectors of docs/host-contract.md, section 2.
    @Test(arguments: [
        ("TestBWContainer3", "300:2e98:a4b0:1789:1d44:bc13:a177:c4d"),
        ("Man8Registry", "300:2e98:a4b0:1789:506:6d46:6c9:5800"),
        ("SomeFutureMachineName", "300:2e98:a4b0:1789:78d9:ceb4:751d:d98f"),
        ("a", "300:2e98:a4b0:1789:b980:7785:afee:48bb"),
    ])
    func matchesReferenceVectors(name: String, address: String) throws {
        let prefix = try IPv6Prefix(parsing: "300:2e98:a4b0:1789::/64")
        #expect(YggdrasilAddress(machineName: name, prefix: prefix).description == address)
    }

    @Test func suffixUsesTheZeroPrefix() throws {
        #expect(YggdrasilAddress(machineName: "Man8Registry", prefix: try IPv6Prefix(parsing: "::/64")).description == "::506:6d46:6c9:5800")
    }

    @Test func hostBitsOfThePrefixAreCleared() throws {
        let prefix = try IPv6Prefix(parsing: "300:2e98:a4b0:1789::1/64")
        #expect(YggdrasilAddress(machineName: "a", prefix: prefix).description == "300:2e98:a4b0:1789:b980:7785:afee:48bb")
    }

    @Test(arguments: [
        ([UInt8](repeating: 0, count: 16), "::"),
        ([0, 1] + [UInt8](repeating: 0, count: 14), "1::"),
        ([UInt8](repeating: 0, count: 15) + [1], "::1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], "2001:db8:0:1::1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], "2001:db8::1:0:0:1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "2001:db8:1:1:1:1:1:1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "2001:db8:0:1:1:1:1:1"),
    ])
    func printsRFC5952(bytes: [UInt8], text: String) {
        #expect(YggdrasilAddress(bytes: bytes).description == text)
    }

    @Test func refusesBadPrefixes() {
        for text in ["300::", "300::/129", "zz::/64", "1.2.3.4/24"] {
            #expect(throws: Man8SError.self) { try IPv6Prefix(parsing: text) }
        }
    }
}

@Suite struct YggdrasilConfigTests {
    @Test func readsAdminListenFromHJSONAndJSON() {
        #expect(
            YggdrasilPrefixDiscovery.adminListen(in: "{\n  Peers: []\n  AdminListen: unix:///var/run/yggdrasil.sock\n}") == "unix:///var/run/yggdrasil.sock")
        #expect(YggdrasilPrefixDiscovery.adminListen(in: #"{"Peers": [], "AdminListen": "unix:///tmp/a.sock", "IfName": "none"}"#) == "unix:///tmp/a.sock")
        #expect(YggdrasilPrefixDiscovery.adminListen(in: "AdminListen: none") == nil)
        #expect(YggdrasilPrefixDiscovery.adminListen(in: "Peers: []") == nil)
    }

    /// No admin socket, and a yggdrasilctl that never answers: the discovery ends at its
    /// deadline, saying so, instead of waiting with it.
    @Test(.timeLimit(.minutes(1))) func aYggdrasilctlThatNeverAnswersIsStoppedAtItsDeadline() async throws {
        let work = NSTemporaryDirectory() + "mbctl-yggdrasilctl-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Data("#!/bin/sh\nsleep 600\n".utf8).write(to: URL(fileURLWithPath: "\(work)/yggdrasilctl"))
        chmod("\(work)/yggdrasilctl", 0o755)
        var discovery = YggdrasilPrefixDiscovery(configFiles: [])
        discovery.defaultEndpoint = "unix://\(work)/no-such.sock"
        discovery.yggdrasilctl = "\(work)/yggdrasilctl"
        discovery.yggdrasilctlDeadline = 1
        await #expect {
            try await discovery.discover()
        } throws: { error in
            "\(error)".contains("did not answer within 1 seconds")
        }
    }

    @Test func findsTheSubnetInBothAnswerShapes() throws {
        let v05 = Data(#"{"key":"k","address":"200::1","subnet":"300:7cf4:cd63:29b7::/64"}"#.utf8)
        let v04 = Data(#"{"status":"success","response":{"self":{"200::1":{"subnet":"301:1::/64"}}}}"#.utf8)
        #expect(try YggdrasilPrefixDiscovery.prefix(from: v05, source: "t").description == "300:7cf4:cd63:29b7::/64")
        #expect(try YggdrasilPrefixDiscovery.prefix(from: v04, source: "t").description == "301:1::/64")
        #expect(throws: Man8SError.self) { try YggdrasilPrefixDiscovery.prefix(from: Data("{}".utf8), source: "t") }
    }
}
