import Foundation

/// A long-running process (a registry, a token server, an mbctl under test) that is stopped
/// when the test ends.
public final class BackgroundProcess {
    public let process = Process()
    public let logPath: String

    /// Where test processes leave their pid, so that `scripts/test` can stop any that a crashed
    /// test left behind.
    public static let pidDirectory = "/tmp/mbctl-test-pids"

    public init(_ arguments: [String], logPath: String, environment: [String: String]? = nil) throws {
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
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
            throw TestCommandError.timedOut((process.arguments ?? []).joined(separator: " "), seconds: seconds)
        }
        process.waitUntilExit()
    }

    /// SIGTERM (SIGKILL after 5 s, or at once with `abruptly`), and wait for the exit.
    ///
    /// Children of Foundation's Process inherit the blocked signal mask of the thread that
    /// spawned them, so a child that does not reset it never sees SIGTERM: hence the SIGKILL.
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
