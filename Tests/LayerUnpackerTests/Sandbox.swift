import Crypto
import Foundation
import TestSupport
@testable import LayerUnpacker

/// A temporary directory holding a root to unpack into and, beside it, an `outside` directory
/// standing for the host: breakout tests check that `outside` is never touched.
final class Sandbox {
    let path: String
    var root: String { "\(path)/root" }
    var outside: String { "\(path)/outside" }
    private var layerCount = 0

    static let fixtures: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    init() throws {
        path = NSTemporaryDirectory() + "mbctl-sandbox-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(outside)/dir", withIntermediateDirectories: true)
        try "host file".write(toFile: "\(outside)/victim", atomically: true, encoding: .utf8)
        try "host file in a dir".write(toFile: "\(outside)/dir/inner", atomically: true, encoding: .utf8)
        chmod("\(outside)/victim", 0o644)
        chmod("\(outside)/dir", 0o755)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Every path, type, mode, owner, size and content below `outside`.
    func outsideSnapshot() -> [String] {
        var lines: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: outside)
        lines.append(describe(outside))
        while let relative = enumerator?.nextObject() as? String {
            lines.append(relative + " " + describe("\(outside)/\(relative)"))
        }
        return lines.sorted()
    }

    private func describe(_ file: String) -> String {
        var info = stat()
        guard lstat(file, &info) == 0 else { return "missing" }
        let content = FileManager.default.contents(atPath: file).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return "\(info.st_mode) \(info.st_uid):\(info.st_gid) \(info.st_size) \(info.st_mtim.tv_sec) \(content)"
    }

    /// Writes an uncompressed layer tar (Python's tarfile, via make-image.py) from entries given
    /// as JSON, and returns it as a ``LayerBlob`` with its real digest.
    func layer(_ entriesJSON: String) throws -> LayerBlob {
        layerCount += 1
        let spec = "\(path)/layer\(layerCount).json", tar = "\(path)/layer\(layerCount).tar"
        try entriesJSON.write(toFile: spec, atomically: true, encoding: .utf8)
        try runCommand(["python3", "\(Self.fixtures)/make-image.py", "--layer", spec, tar])
        let data = try Data(contentsOf: URL(fileURLWithPath: tar))
        let digest = "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        return LayerBlob(path: tar, compression: .none, digest: digest, diffID: digest)
    }

    /// Applies the layers in order; returns the error, if any.
    func apply(_ layers: [LayerBlob]) -> Error? {
        let unpacker = LayerUnpacker(rootPath: root, rootless: false)
        do {
            for layer in layers { try unpacker.apply(layer) }
            return nil
        } catch {
            return error
        }
    }

    func exists(_ relative: String) -> Bool {
        var info = stat()
        return lstat("\(root)/\(relative)", &info) == 0
    }

    func read(_ relative: String) -> String? {
        FileManager.default.contents(atPath: "\(root)/\(relative)").map { String(decoding: $0, as: UTF8.self) }
    }
}
