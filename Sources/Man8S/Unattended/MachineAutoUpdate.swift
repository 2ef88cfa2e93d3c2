import BlockingWork
import ConfinedFilesystem
import Foundation
import ImageAccess
import OCILayout

/// `mbctl machines auto-update [NAME…]`: the unattended upgrade of machines marked
/// `--auto-update registry`, as podman's auto-update does it: for each, in dependency order, the
/// digest its recorded image reference names now (manifest requests only); a machine whose
/// digest moved is upgraded with a restart, then must prove healthy (its health check passes,
/// or, without one, its unit stays active through ``settle``); one that does not is rolled back
/// to the generation it ran, restarted, and checked again. Only running machines are updated: a
/// stopped one could not be checked. One run at a time per host.
public struct MachineAutoUpdate: Sendable {
    public var build: MachineBuild
    public var keep = 1
    /// How long a machine without a health check must stay up after its upgrade.
    public var settle: Duration = .seconds(10)
    public var systemd = Systemd()

    public init(build: MachineBuild) {
        self.build = build
    }

    /// What became of one machine.
    public enum Outcome: Sendable, Equatable {
        case upToDate(Digest)
        /// `--dry-run`: what an update would do.
        case wouldUpgrade(from: String?, to: Digest)
        case upgraded(from: String?, to: Digest)
        /// Upgraded, found unhealthy (why), and back on the generation it ran.
        case rolledBack(to: Digest, reason: String, healthyAgain: Bool)
        case skipped(reason: String)
        case failed(reason: String)

        /// Whether the run should end non-zero for it.
        public var isFailure: Bool {
            switch self {
            case .rolledBack, .failed: return true
            default: return false
            }
        }
    }

    public typealias Report = @Sendable (_ name: MachineName, _ outcome: Outcome) -> Void

    /// The machines to look at: those named (which must exist), else every marked one, in
    /// dependency order.
    public func machines(named names: [MachineName]) throws -> [MachineName] {
        let layout = build.layout
        guard let directories = try MachineDirectories.openExisting(layout) else {
            if let first = names.first { throw Man8SError.noSuchMachine(first.value) }
            return []
        }
        var chosen: [MachineName] = []
        var dependencies: [String: [String]] = [:]
        let candidates = names.isEmpty ? MachineList(layout: layout).names().compactMap { try? MachineName($0) } : names
        for name in candidates {
            guard try directories.exists(name) else { throw Man8SError.noSuchMachine(name.value) }
            let settings = try MachineSettings.read(of: name, in: directories)
            guard !names.isEmpty || settings.autoUpdate else { continue }
            chosen.append(name)
            dependencies[name.value] = settings.requires
        }
        let byName = Dictionary(chosen.map { ($0.value, $0) }, uniquingKeysWith: { first, _ in first })
        return try DependencyOrder.sorted(chosen.map(\.value)) { dependencies[$0] ?? [] }.compactMap { byName[$0] }
    }

    /// Updates `machines` (or, with `dryRun`, says what it would do), reporting each as it is
    /// done. Holds the host's auto-update lock throughout.
    public func run(_ machines: [MachineName], dryRun: Bool, report: Report) async throws -> [Outcome] {
        let directories = try MachineDirectories.open(build.layout)
        let lockPath = "\(build.layout.machines)/.locks/auto-update.lock"
        let lock = try naming(lockPath) { () -> FileLock? in
            _ = try directories.machines.makeDirectoryIfMissing(MachineLock.directoryName, mode: 0o700)
            return try FileLock.attempt(Array("auto-update.lock".utf8), in: try directories.machines.openDirectory(MachineLock.directoryName))
        }
        guard let lock else { throw Man8SError.autoUpdateRunning }
        defer { lock.release() }
        var outcomes: [Outcome] = []
        for name in machines {
            try Task.checkCancellation()
            let outcome: Outcome
            do {
                outcome = try await update(name, in: directories, dryRun: dryRun)
            } catch let error as CancellationError {
                throw error
            } catch {
                outcome = .failed(reason: "\(error)")
            }
            if !dryRun { Self.journal(name, outcome) }
            report(name, outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    private func update(_ name: MachineName, in directories: MachineDirectories, dryRun: Bool) async throws -> Outcome {
        guard let record = try directories.record(of: name) else {
            return .skipped(reason: "mbctl has no record of its image (made by an older mbctl); upgrade it once by hand")
        }
        let digest = try await build.images.currentDigest(of: try ImageLocation(parsing: record.image))
        guard record.digest != digest.description else { return .upToDate(digest) }
        if dryRun { return .wouldUpgrade(from: record.digest, to: digest) }
        guard RunningMachines.isRunning(name, layout: build.layout) else {
            return .skipped(reason: "it is not running, so an upgrade could not be checked")
        }
        var upgrade = MachineUpgrade(build: build)
        upgrade.restart = true
        upgrade.keep = max(1, keep)
        upgrade.systemd = systemd
        guard case .upgraded(let upgraded) = try await upgrade.upgrade(name, from: record.image) else { return .upToDate(digest) }
        if let problem = try await problem(of: name) {
            var rollback = MachineRollback(layout: build.layout)
            rollback.restart = true
            rollback.systemd = systemd
            _ = try await BlockingWork.run { [rollback] in try rollback.rollback(name) }
            // A machine whose new generation stopped is started again on its old one.
            if !RunningMachines.isRunning(name, layout: build.layout) { try await BlockingWork.run { [systemd] in try systemd.start(name) } }
            let again = try await self.problem(of: name)
            return .rolledBack(to: upgraded.to, reason: problem, healthyAgain: again == nil)
        }
        return .upgraded(from: upgraded.from, to: upgraded.to)
    }

    /// Why the freshly started machine `name` is not healthy; nil when it is. With a health
    /// check: healthy once a check passes, not once one fails `retries` times in a row or its
    /// unit stops (waited for up to its start period and `retries + 1` rounds of interval and
    /// timeout). Without: its unit stays active, the same run of it, for ``settle``.
    func problem(of name: MachineName) async throws -> String? {
        let layout = build.layout
        guard let directories = try MachineDirectories.openExisting(layout) else { return "its directories are gone" }
        let invocation = systemd.invocation(of: name)
        func stopped() -> String? {
            let state = systemd.state(name)?.active ?? "unknown"
            guard state == "active", systemd.invocation(of: name) == invocation else { return "its unit stopped (it is \(state))" }
            return nil
        }
        let clock = ContinuousClock(), started = clock.now
        if let health = try MachineSettings.read(of: name, in: directories).health {
            let rounds = Duration.milliseconds((health.retries + 1) * (health.intervalMilliseconds + health.timeoutMilliseconds))
            let deadline = started + .milliseconds(health.startPeriodMilliseconds) + rounds + .seconds(5)
            while clock.now < deadline {
                if let stopped = stopped() { return stopped }
                switch MachineHealth.status(of: name, checked: true, in: directories, running: true, systemd: systemd) {
                case .healthy: return nil
                case .unhealthy:
                    let last = HealthRecord.read(of: name, in: directories)
                    return "its health check failed \(health.retries) times" + (last?.exitCode.map { " (last exit status \($0))" } ?? "")
                default: break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            return "its health check did not pass within \(HealthCheck.durationText(Int(started.duration(to: clock.now).components.seconds) * 1000))"
        }
        while started.duration(to: clock.now) < settle {
            if let stopped = stopped() { return stopped }
            try await Task.sleep(for: .milliseconds(250))
        }
        return stopped()
    }

    /// One line per machine in its journal.
    static func journal(_ name: MachineName, _ outcome: Outcome) {
        let unit = Systemd.unit(name)
        switch outcome {
        case .upgraded(_, let to): Journal.send("auto-update: machine \(name) upgraded to \(to) and healthy", unit: unit, priority: 5)
        case .rolledBack(let to, let reason, let again):
            Journal.send(
                "auto-update: machine \(name) rolled back from \(to): \(Journal.escaped(reason))"
                    + (again ? "" : "; its previous generation is not healthy either"),
                unit: unit, priority: 3)
        case .failed(let reason): Journal.send("auto-update: machine \(name) not updated: \(Journal.escaped(reason))", unit: unit, priority: 3)
        case .upToDate, .wouldUpgrade, .skipped: break
        }
    }
}
