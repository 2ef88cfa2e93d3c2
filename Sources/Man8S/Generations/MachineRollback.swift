import Foundation

/// `mbctl machines rollback NAME`: back to the newest kept generation (rootfs, nspawn file,
/// man8env.env), through the same crash-safe ``MachineTransition``; the generation left is
/// kept in its turn, so a second rollback goes forward again.
public struct MachineRollback: Sendable {
    public var layout: HostLayout
    public var restart = false
    public var systemd = Systemd()

    public init(layout: HostLayout) {
        self.layout = layout
    }

    public struct Outcome: Sendable {
        public var from: Int
        public var to: Int
        public var image: String?
        public var digest: String?
        public var restarted: Bool
    }

    public func rollback(_ name: MachineName) throws -> Outcome {
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        let lock = try MachineLock.acquire(name, for: .upgrade, in: directories)
        defer { lock.release() }
        guard let generations = try MachineGenerations.open(name, in: directories, create: false) else {
            throw Man8SError.noPreviousGeneration(name.value)
        }
        try MachineTransition.recover(generations)
        try generations.removeAbandonedPreparation()
        guard let target = try generations.previous().first else { throw Man8SError.noPreviousGeneration(name.value) }
        let running = RunningMachines.isRunning(name, layout: layout)
        if running && !restart { throw Man8SError.machineRunning(name.value, flag: "--restart") }
        if running { try systemd.requireManaged(name) }
        let record = generations.record(of: target)
        let from = try generations.current()?.number ?? 1
        if running { try systemd.stop(name) }
        try MachineTransition(incoming: String(target), outgoing: from, keep: max(1, try generations.previous().count)).begin(in: generations)
        // The unit's ExecStartPre (machines recover) takes the machine's lock: let go of it first.
        lock.release()
        if running { try systemd.start(name) }
        return Outcome(from: from, to: target, image: record?.image, digest: record?.digest, restarted: running)
    }
}
