import Foundation

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { status == 0 }
}

public enum TestCommandError: Error, CustomStringConvertible {
    case failed(String, CommandResult)
    /// The command was still running at its deadline and was killed.
    case timedOut(String, seconds: Int)

    public var description: String {
        switch self {
        case .failed(let command, let result):
            return "\(command) exited \(result.status)\nstdout: \(result.stdout)\nstderr: \(result.stderr)"
        case .timedOut(let command, let seconds):
            return "\(command) did not finish within \(seconds) s and was killed"
        }
    }
}

/// How long a command a test runs may take unless the test says otherwise: far more than any
/// takes, so that only a hang reaches it.
public let defaultCommandDeadline = 600

/// Runs a command to completion, its output collected through files (no pipe can fill up).
/// Nothing waits forever: the command runs under coreutils' `timeout`, is killed (TERM, then
/// KILL 10 s later) at `deadline` seconds, and that is a ``TestCommandError/timedOut(_:seconds:)``.
@discardableResult
public func runCommand(
    _ arguments: [String], environment: [String: String]? = nil, check: Bool = true, deadline: Int = defaultCommandDeadline
) throws -> CommandResult {
    let scratch = NSTemporaryDirectory() + "mbctl-cmd-\(UUID().uuidString)"
    defer {
        try? FileManager.default.removeItem(atPath: scratch + ".out")
        try? FileManager.default.removeItem(atPath: scratch + ".err")
    }
    let started = Date()
    let process = try SpawnedProcess(
        ["/usr/bin/timeout", "--kill-after=10", String(deadline)] + arguments, environment: environment,
        outputPath: scratch + ".out", errorPath: scratch + ".err")
    // timeout(1) bounds the wait: it ends the command at the deadline, and itself soon after.
    process.waitUntilExit()
    let result = CommandResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOfFile: scratch + ".out", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? "")
    // 124: timeout's own status for a command it ended; 137: killed after --kill-after.
    if result.status == 124 || (result.status == 137 && Date().timeIntervalSince(started) >= Double(deadline)) {
        throw TestCommandError.timedOut(arguments.joined(separator: " "), seconds: deadline)
    }
    if check && !result.succeeded {
        throw TestCommandError.failed(arguments.joined(separator: " "), result)
    }
    return result
}
