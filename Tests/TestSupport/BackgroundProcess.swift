import Foundation

/// A long-running process (a registry, a token server, an mbctl under test) that is stopped
/// when the test ends.
public final class BackgroundProcess {
    public let process: SpawnedProcess
    public let logPath: String

    /// Where test processes leave their pid, so that `scripts/test` can stop any that a crashed
    /// test left behind.
    public static let pidDirectory = "/tmp/mbctl-test-pids"

    /// Starts `arguments` (the first looked up in `PATH`), its output appended to `logPath`.
    public init(_ arguments: [String], logPath: String, environment: [String: String]? = nil) throws {
        self.logPath = logPath
        process = try SpawnedProcess(arguments, environment: environment, outputPath: logPath, errorPath: logPath)
        try? FileManager.default.createDirectory(atPath: Self.pidDirectory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(Self.pidDirectory)/\(process.processIdentifier)", contents: nil)
    }

    /// Waits for the process to exit by itself; after `seconds` it is killed and that is a
    /// ``TestCommandError/timedOut(_:seconds:)``.
    public func waitForExit(within seconds: Int = defaultCommandDeadline) throws {
        let deadline = Date().addingTimeInterval(Double(seconds))
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            stop(abruptly: true)
            throw TestCommandError.timedOut("process \(process.processIdentifier) (\(logPath))", seconds: seconds)
        }
        process.waitUntilExit()
    }

    /// SIGTERM (SIGKILL after 5 s, or at once with `abruptly`), and wait for the exit.
    public func stop(abruptly: Bool = false) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, abruptly ? SIGKILL : SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: "\(Self.pidDirectory)/\(process.processIdentifier)")
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit { stop() }
}
