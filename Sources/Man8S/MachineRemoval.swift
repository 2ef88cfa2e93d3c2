import Foundation
import LayerUnpacker

/// `mbctl machines remove NAME`: deletes the rootfs, the `/var/lib/machines` link and the nspawn
/// file. Never the configuration or data: with them the machine can be made again.
public struct MachineRemoval: Sendable {
    public var layout: HostLayout

    public init(layout: HostLayout) {
        self.layout = layout
    }

    /// What was removed, and the user's directories that were left.
    public struct Outcome: Sendable {
        public var removed: [String]
        public var kept: [String]
    }

    public func remove(_ name: MachineName, force: Bool = false) throws -> Outcome {
        let rootfs = layout.rootfs(of: name), link = layout.systemdLink(of: name), nspawn = layout.nspawnFile(of: name)
        let present = [link, nspawn, rootfs].filter { path in
            var info = stat()
            return lstat(path, &info) == 0
        }
        guard !present.isEmpty else { throw Man8SError.noSuchMachine(name.value) }
        if !force, RunningMachines.scan().contains(where: { $0.matches(name: name.value, directories: [rootfs, link]) }) {
            throw Man8SError.machineRunning(name.value)
        }
        for path in present {
            LayerUnpacker.removeTree(at: path)
            var info = stat()
            if lstat(path, &info) == 0 { throw Man8SError.filesystem(path: path, operation: "remove", errno: EBUSY) }
        }
        let kept = [layout.configDirectory(of: name), layout.dataDirectory(of: name)].filter { FileManager.default.fileExists(atPath: $0) }
        return Outcome(removed: present, kept: kept)
    }
}
