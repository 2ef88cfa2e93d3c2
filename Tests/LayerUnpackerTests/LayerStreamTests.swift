import OCILayout
import Crypto
import Foundation
import TestSupport
import Testing
@testable import LayerUnpacker

/// Compression and verification of whole layers.
@Suite struct LayerStreamTests {
    func sha256(_ data: Data) -> String {
        "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    func gzip(_ data: Data, in sandbox: Sandbox, name: String) throws -> Data {
        let input = "\(sandbox.path)/\(name).raw", output = "\(sandbox.path)/\(name).gz"
        try data.write(to: URL(fileURLWithPath: input))
        try runCommand(["python3", "-c", "import gzip,sys; open(sys.argv[2],'wb').write(gzip.compress(open(sys.argv[1],'rb').read()))", input, output])
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    /// A tar of a few files, big enough to span several chunks.
    func tar(_ sandbox: Sandbox) throws -> Data {
        let layer = try sandbox.layer(
            #"""
            [{"path": "a", "type": "random", "size": 3000000, "seed": 1},
             {"path": "b", "content": "bee"},
             {"path": "c", "type": "random", "size": 70000, "seed": 2}]
            """#)
        guard case .file(let path) = layer.source else { throw CocoaError(.fileReadUnknown) }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func apply(_ blob: Data, diffID: String, in sandbox: Sandbox, compression: LayerCompression = .gzip) throws {
        let path = "\(sandbox.path)/blob-\(UUID().uuidString)"
        try blob.write(to: URL(fileURLWithPath: path))
        try LayerUnpacker(rootPath: sandbox.root).apply(LayerBlob(path: path, compression: compression, digest: sha256(blob), diffID: diffID))
    }

    @Test func gzipLayersVerifyBothDigests() throws {
        let sandbox = try Sandbox()
        let raw = try tar(sandbox)
        let blob = try gzip(raw, in: sandbox, name: "one")
        try apply(blob, diffID: sha256(raw), in: sandbox)
        #expect(sandbox.read("b") == "bee")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(sandbox.root)/a")).count == 3_000_000)

        let wrong = "sha256:" + String(repeating: "1", count: 64)
        #expect(throws: UnpackError.diffIDMismatch(layer: sha256(blob), expected: wrong, actual: sha256(raw))) {
            try apply(blob, diffID: wrong, in: try Sandbox())
        }
    }

    @Test func concatenatedGzipMembersAreOneStream() throws {
        let sandbox = try Sandbox()
        let raw = try tar(sandbox)
        let middle = raw.count / 3
        let blob = try gzip(raw.prefix(middle), in: sandbox, name: "first") + gzip(raw.dropFirst(middle), in: sandbox, name: "second")
        try apply(blob, diffID: sha256(raw), in: sandbox)
        #expect(sandbox.read("b") == "bee")
    }

    @Test func truncatedAndCorruptGzipAreRefused() throws {
        let sandbox = try Sandbox()
        let raw = try tar(sandbox)
        let blob = try gzip(raw, in: sandbox, name: "whole")
        #expect {
            try apply(blob.prefix(blob.count / 2), diffID: sha256(raw), in: try Sandbox())
        } throws: { error in
            "\(error)".contains("truncated") || "\(error)".contains("cannot read layer")
        }
        var corrupt = blob
        for offset in stride(from: 2000, to: 6000, by: 7) { corrupt[offset] ^= 0x5A }
        #expect(throws: UnpackError.self) { try apply(corrupt, diffID: sha256(raw), in: try Sandbox()) }
    }

    @Test func aBlobNotCompressedAsDeclaredIsRefused() throws {
        let sandbox = try Sandbox()
        let raw = try tar(sandbox)
        #expect(throws: UnpackError.compressionMismatch(layer: sha256(raw), expected: "gzip", found: "uncompressed")) {
            try apply(raw, diffID: sha256(raw), in: sandbox, compression: .gzip)
        }
        let blob = try gzip(raw, in: sandbox, name: "gz")
        #expect(throws: UnpackError.compressionMismatch(layer: sha256(blob), expected: "zstd", found: "gzip")) {
            try apply(blob, diffID: sha256(raw), in: sandbox, compression: .zstd)
        }
    }

    @Test func wrongLayerDigestIsRefused() throws {
        let sandbox = try Sandbox()
        let raw = try tar(sandbox)
        let path = "\(sandbox.path)/plain.tar"
        try raw.write(to: URL(fileURLWithPath: path))
        let claimed = "sha256:" + String(repeating: "2", count: 64)
        #expect(throws: UnpackError.digestMismatch(layer: claimed, expected: claimed, actual: sha256(raw))) {
            try LayerUnpacker(rootPath: sandbox.root).apply(LayerBlob(path: path, compression: .none, digest: claimed, diffID: nil))
        }
    }
}
