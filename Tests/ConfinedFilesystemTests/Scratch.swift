import Foundation

/// A scratch directory for one test, under the system's temporary directory.
struct Scratch {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "mbctl-confined-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    @discardableResult
    func directory(_ relative: String) throws -> String {
        let full = "\(path)/\(relative)"
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    func file(_ relative: String, _ contents: String) throws {
        try contents.write(toFile: "\(path)/\(relative)", atomically: false, encoding: .utf8)
    }

    func symlink(_ relative: String, _ target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: "\(path)/\(relative)", withDestinationPath: target)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
