import BlockingWork
import Foundation

/// A machine's health check run (`mbctl machines health NAME`), and watched
/// (`mbctl machines health NAME --watch`, the `mbctl-health@NAME.service` that the machine's unit
/// wants while it runs): every interval, the check runs inside the machine and the outcome goes
/// into its ``HealthRecord``. A machine that turns unhealthy is written to its journal, and
/// restarted when its check says so.
public struct MachineHealth: Sendable {
    public var layout: HostLayout
    public var systemd = Systemd()

    public init(layout: HostLayout) {
        self.layout = layout
    }

    /// One run of a check.
    public struct Outcome: Sendable, Equatable {
        public var passed: Bool
        public var exitCode: Int32
        public var timedOut: Bool
        /// The end of what it printed (standard output and error).
        public var output: String
    }

    /// Runs machine `name`'s check once. Blocks for up to its timeout.
    public func check(_ name: MachineName) throws -> Outcome {
        let (_, health) = try healthCheck(of: name)
        return try run(health, in: name)
    }

    /// The check of `name`, which must exist and have one.
    func healthCheck(of name: MachineName) throws -> (MachineDirectories, HealthCheck) {
        guard let directories = try MachineDirectories.openExisting(layout), try directories.exists(name) else {
            throw Man8SError.noSuchMachine(name.value)
        }
        guard let health = try MachineSettings.read(of: name, in: directories).health else {
            throw Man8SError.invalidSetting(
                "machines health \(name)", reason: "machine \(name) has no health check (mbctl machines configure \(name) --health-cmd CMD)")
        }
        return (directories, health)
    }

    /// Runs `health`'s command inside running machine `name` under its timeout (coreutils'
    /// `timeout`, which kills the command's whole process group).
    func run(_ health: HealthCheck, in name: MachineName, as process: Process = Process()) throws -> Outcome {
        let enter = try MachineShell(layout: layout).enterCommand(for: name, command: health.command)
        let seconds = String(format: "%.3f", Double(health.timeoutMilliseconds) / 1000)
        process.executableURL = URL(fileURLWithPath: Systemd.find("timeout") ?? "/usr/bin/timeout")
        process.arguments = ["--kill-after=1", seconds] + enter
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        try? output.fileHandleForWriting.close()
        // Read until the end or until `timeout` is gone (a daemon the check started in a session
        // of its own may hold the pipe open for good), keeping only the tail: a check may print
        // without bound.
        var tail = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 14)
        var descriptor = pollfd(fd: output.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&descriptor, 1, 200)
            if ready < 0, errno == EINTR { continue }
            if ready == 0 {
                if process.isRunning { continue }
                break
            }
            let got = read(descriptor.fd, &buffer, buffer.count)
            if got < 0, errno == EINTR { continue }
            if got <= 0 { break }
            tail.append(contentsOf: buffer[0..<got])
            if tail.count > HealthRecord.largestOutput { tail = tail.suffix(HealthRecord.largestOutput) }
        }
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        let timedOut = (status == 124 || status == 137) && started.duration(to: .now) >= .milliseconds(health.timeoutMilliseconds)
        return Outcome(passed: status == 0, exitCode: status, timedOut: timedOut, output: String(decoding: tail, as: UTF8.self))
    }

    /// The watcher: checks machine `name` every interval until cancelled (the machine stops, and
    /// its watcher with it) or its check is removed. Settings are read again before each check.
    public func watch(_ name: MachineName) async throws {
        var (directories, health) = try healthCheck(of: name)
        var record = HealthRecord(status: .starting, failingStreak: 0, invocation: systemd.invocation(of: name) ?? "")
        try record.write(of: name, in: directories)
        let started = ContinuousClock.now
        while true {
            try await Task.sleep(for: .milliseconds(health.intervalMilliseconds))
            guard let current = try MachineSettings.read(of: name, in: directories).health else { return }
            health = current
            let checked = health, process = Process()
            // Stopped with the watcher: the check does not run out its timeout first.
            let outcome = try await withTaskCancellationHandler {
                try await BlockingWork.run { [self] in try run(checked, in: name, as: process) }
            } onCancel: {
                if process.isRunning { process.terminate() }
            }
            let inStartPeriod = started.duration(to: .now) < .milliseconds(health.startPeriodMilliseconds)
            let next = Self.next(record, after: outcome, inStartPeriod: inStartPeriod, retries: health.retries)
            try next.write(of: name, in: directories)
            if next.status == .unhealthy, record.status != .unhealthy {
                Journal.send(
                    "machine \(name) is unhealthy: \(next.failingStreak) health checks failed in a row; the last "
                        + (outcome.timedOut ? "timed out" : "exited with \(outcome.exitCode)") + ": " + Journal.escaped(outcome.output.suffix(512)),
                    unit: Systemd.unit(name), priority: 4)
            }
            // Whenever it is unhealthy (also when the option came after it turned so).
            if next.status == .unhealthy, health.restartOnUnhealthy {
                Journal.send("restarting machine \(name) (--restart-on-unhealthy)", unit: Systemd.unit(name), priority: 5)
                try systemd.restartWithoutWaiting(name)
                return
            }
            record = next
        }
    }

    /// The record after a check with `outcome`: a pass makes the machine healthy; a failure
    /// counts once the start period is over, and the `retries`th in a row makes it unhealthy.
    static func next(_ record: HealthRecord, after outcome: Outcome, inStartPeriod: Bool, retries: Int) -> HealthRecord {
        var next = record
        next.checkedAt = Date()
        next.exitCode = outcome.exitCode
        next.output = outcome.output
        if outcome.passed {
            next.status = .healthy
            next.failingStreak = 0
        } else if !inStartPeriod {
            next.failingStreak += 1
            if next.failingStreak >= retries { next.status = .unhealthy }
        }
        return next
    }

    /// What `machines status` and `machines list` show: nil for a machine without a check, or
    /// not running; `starting` until the watcher of this run of the machine has a result.
    /// `checked`: whether its settings have a health check (the caller has read them).
    static func status(of name: MachineName, checked: Bool, in directories: MachineDirectories, running: Bool, systemd: Systemd) -> HealthRecord.Status? {
        guard running, checked else { return nil }
        guard let record = HealthRecord.read(of: name, in: directories), let invocation = systemd.invocation(of: name), record.invocation == invocation
        else { return .starting }
        return record.status
    }
}
