import Foundation
import Testing
@testable import LayerUnpacker

/// The classic escapes of the moby/go-archive, containerd and umoci test suites. In each, the
/// `outside` directory (the host) must stay exactly as it was, and the entry must either land
/// inside the root or fail the unpack with an error naming it.
@Suite struct BreakoutTests {
    /// Runs `layers` (JSON entry lists, `OUT` standing for the absolute path of `outside`),
    /// checks the host is untouched, and returns the sandbox and the error.
    func attempt(_ layers: [String]) throws -> (Sandbox, Error?) {
        let sandbox = try Sandbox()
        let before = sandbox.outsideSnapshot()
        let blobs = try layers.map { try sandbox.layer($0.replacingOccurrences(of: "OUT", with: sandbox.outside)) }
        let error = sandbox.apply(blobs)
        #expect(sandbox.outsideSnapshot() == before, "the host outside the root changed")
        return (sandbox, error)
    }

    func expectFailure(_ error: Error?, naming entry: String) {
        guard let error = error as? UnpackError else {
            Issue.record("expected the unpack to fail naming \(entry), got \(String(describing: error))")
            return
        }
        #expect(error.description.contains("\"\(entry)\""), "\(error)")
    }

    @Test func traversalNamesLandInsideTheRoot() throws {
        let (sandbox, error) = try attempt([
            #"""
            [{"path": "../outside/victim", "content": "evil"},
             {"path": "../../../../../../../../tmp/evil-abs", "content": "evil"},
             {"path": "/etc/evil-rooted", "content": "evil"},
             {"path": "a/../../outside/dir/inner", "content": "evil"}]
            """#
        ])
        #expect(error == nil)
        #expect(sandbox.read("outside/victim") == "evil")
        #expect(sandbox.read("tmp/evil-abs") == "evil")
        #expect(sandbox.read("etc/evil-rooted") == "evil")
        #expect(sandbox.read("outside/dir/inner") == "evil")
    }

    @Test func symlinkThenWriteThroughIt() throws {
        let (sandbox, error) = try attempt([
            #"""
            [{"path": "outside", "type": "dir"}, {"path": "OUT/dir", "type": "dir"},
             {"path": "rel", "type": "symlink", "target": "../outside"},
             {"path": "rel/victim", "content": "evil"},
             {"path": "abs", "type": "symlink", "target": "OUT"},
             {"path": "abs/dir/inner", "content": "evil"},
             {"path": "root-link", "type": "symlink", "target": "/"},
             {"path": "root-link/outside/victim2", "content": "evil"},
             {"path": "dangling", "type": "symlink", "target": "../../nowhere"},
             {"path": "dangling/file", "content": "evil"}]
            """#
        ])
        #expect(error == nil)
        // Symlinks resolve as if the root were /: "../outside" and "OUT" are directories of the root.
        #expect(sandbox.read("outside/victim") == "evil")
        #expect(sandbox.read("outside/victim2") == "evil")
        #expect(sandbox.read("\(sandbox.outside.dropFirst())/dir/inner") == "evil")
        // A symlink whose target is not in the root is replaced by the directory the entry needs.
        #expect(sandbox.read("dangling/file") == "evil")
    }

    @Test func hardlinkToOutsideFails() throws {
        let (_, error) = try attempt([
            #"""
            [{"path": "hl", "type": "hardlink", "target": "../outside/victim"}]
            """#
        ])
        expectFailure(error, naming: "hl")

        let (_, viaSymlink) = try attempt([
            #"""
            [{"path": "esc", "type": "symlink", "target": "OUT"},
             {"path": "hl", "type": "hardlink", "target": "esc/victim"}]
            """#
        ])
        expectFailure(viaSymlink, naming: "hl")
    }

    @Test func hardlinkToASymlinkLinksTheSymlink() throws {
        let (sandbox, error) = try attempt([
            #"""
            [{"path": "esc", "type": "symlink", "target": "OUT/victim"},
             {"path": "hl", "type": "hardlink", "target": "esc"},
             {"path": "hl", "type": "file", "content": "replaces the link, not the host file"}]
            """#
        ])
        #expect(error == nil)
        #expect(sandbox.read("hl") == "replaces the link, not the host file")
    }

    @Test func symlinkReplacedByDirectoryAndBack() throws {
        let (sandbox, error) = try attempt([
            #"[{"path": "d", "type": "symlink", "target": "../outside"}]"#,
            #"[{"path": "d", "type": "dir"}, {"path": "d/victim", "content": "inside"}]"#,
            #"[{"path": "OUT", "type": "dir"}, {"path": "d", "type": "symlink", "target": "OUT"}, {"path": "d/victim", "content": "evil"}]"#,
        ])
        #expect(error == nil)
        #expect(sandbox.read("\(sandbox.outside.dropFirst())/victim") == "evil")
    }

    @Test func whiteoutThroughASymlinkStaysInside() throws {
        let (_, error) = try attempt([
            #"""
            [{"path": "esc", "type": "symlink", "target": "OUT"},
             {"path": "esc/.wh.victim", "content": ""},
             {"path": "rel", "type": "symlink", "target": "../../outside"},
             {"path": "rel/.wh.dir", "content": ""},
             {"path": ".wh...", "content": ""}]
            """#
        ])
        expectFailure(error, naming: ".wh...")
        let (_, opaque) = try attempt([
            #"""
            [{"path": "esc", "type": "symlink", "target": "OUT"},
             {"path": "esc/.wh..wh..opq", "content": ""},
             {"path": "rel", "type": "symlink", "target": "../outside/dir"},
             {"path": "rel/.wh..wh..opq", "content": ""}]
            """#
        ])
        #expect(opaque == nil)
    }

    @Test(arguments: [".wh.", ".wh..", "dir/.wh..."])
    func invalidWhiteoutsAreErrors(name: String) throws {
        let (_, error) = try attempt(["[{\"path\": \"\(name)\", \"content\": \"\"}]"])
        expectFailure(error, naming: name)
    }

    @Test func dotDotAsASymlinkName() throws {
        let (_, error) = try attempt([#"[{"path": "..", "type": "symlink", "target": "OUT"}]"#])
        expectFailure(error, naming: "..")
        let (sandbox, nested) = try attempt([
            #"""
            [{"path": "x", "type": "dir"}, {"path": "x/..", "type": "dir", "mode": 493},
             {"path": "x/../../victim", "content": "inside"}]
            """#
        ])
        #expect(nested == nil)
        #expect(sandbox.read("victim") == "inside")
    }

    @Test func twoHopSymlinkEscape() throws {
        let (sandbox, error) = try attempt([
            #"""
            [{"path": "outside/dir", "type": "dir"},
             {"path": "a", "type": "symlink", "target": "b"},
             {"path": "b", "type": "symlink", "target": "../../../../outside"},
             {"path": "a/victim", "content": "evil"},
             {"path": "c", "type": "symlink", "target": "a/dir"},
             {"path": "c/inner", "content": "evil"}]
            """#
        ])
        #expect(error == nil)
        #expect(sandbox.read("outside/victim") == "evil")
        #expect(sandbox.read("outside/dir/inner") == "evil")
    }

    @Test func chmodAndChownNeverFollowASymlink() throws {
        let (sandbox, error) = try attempt([
            #"""
            [{"path": "esc", "type": "symlink", "target": "OUT/victim"},
             {"path": "escdir", "type": "symlink", "target": "OUT/dir"},
             {"path": "escdir", "type": "dir", "mode": 511, "uid": 4242},
             {"path": "later", "type": "dir", "mode": 448},
             {"path": "later", "type": "symlink", "target": "OUT/dir"},
             {"path": "dev", "type": "symlink", "target": "OUT"},
             {"path": "dev/victim", "type": "chardev", "major": 1, "minor": 3}]
            """#
        ])
        #expect(error == nil)
        var info = stat()
        #expect(lstat("\(sandbox.root)/escdir", &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == 4242)
    }

    @Test func symlinkDirectoryCreatedByTheLayerIsFollowedInside() throws {
        // A non-directory in the way of a parent is replaced, as umoci does.
        let (sandbox, error) = try attempt([
            #"""
            [{"path": "f", "content": "a file"},
             {"path": "f/child", "content": "child"}]
            """#
        ])
        #expect(error == nil)
        #expect(sandbox.read("f/child") == "child")
    }
}
