import Foundation

/// Paths the integration tests need: the fixtures folder and the mbctl binary under test.
enum TestPaths {
    /// `Tests/Fixtures`, found from this source file.
    static let fixtures: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    /// The `mbctl` built next to the test bundle (or `$MBCTL_BINARY`).
    static let mbctl: String = {
        if let explicit = ProcessInfo.processInfo.environment["MBCTL_BINARY"] { return explicit }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("mbctl").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return "mbctl"
    }()

    /// Where test processes leave their pid, so `.ci/run` can stop any a crashed test left behind.
    static let pidDirectory = "/tmp/mbctl-test-pids"
}

/// What a finished command printed and how it exited.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String

    var succeeded: Bool { status == 0 }
}

enum TestCommandError: Error, CustomStringConvertible {
    case failed(String, CommandResult)

    var description: String {
        switch self {
        case .failed(let command, let result):
            return "\(command) exited \(result.status)\nstdout: \(result.stdout)\nstderr: \(result.stderr)"
        }
    }
}

/// Runs a command to completion, its output collected through files (no pipe can fill up).
@discardableResult
func runCommand(_ arguments: [String], environment: [String: String]? = nil, check: Bool = true) throws -> CommandResult {
    let scratch = NSTemporaryDirectory() + "mbctl-cmd-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: scratch + ".out", contents: nil)
    _ = FileManager.default.createFile(atPath: scratch + ".err", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: scratch + ".out")
        try? FileManager.default.removeItem(atPath: scratch + ".err")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + ".out"))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + ".err"))
    try process.run()
    process.waitUntilExit()
    let result = CommandResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOfFile: scratch + ".out", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? "")
    if check && !result.succeeded {
        throw TestCommandError.failed(arguments.joined(separator: " "), result)
    }
    return result
}

/// The environment mbctl runs in under test: no skopeo or umoci on PATH (mbctl must never need
/// them) and none of the host's auth files.
func mbctlEnvironment(home: String? = nil) -> [String: String] {
    ["PATH": "/nonexistent", "HOME": home ?? "/nonexistent"]
}

/// Runs the mbctl under test to completion.
@discardableResult
func runMbctl(_ arguments: [String], home: String? = nil, check: Bool = false) throws -> CommandResult {
    try runCommand([TestPaths.mbctl] + arguments, environment: mbctlEnvironment(home: home), check: check)
}

/// A long-running process (a registry, a token server) that is stopped when the test ends.
final class BackgroundProcess {
    let process = Process()
    let logPath: String

    init(_ arguments: [String], logPath: String, environment: [String: String]? = nil) throws {
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
        try? FileManager.default.createDirectory(atPath: TestPaths.pidDirectory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(TestPaths.pidDirectory)/\(process.processIdentifier)", contents: nil)
    }

    /// SIGTERM (SIGKILL after 5 s, or at once with `abruptly`), and wait for the exit.
    ///
    /// Children of Foundation's Process inherit the blocked signal mask of the thread that
    /// spawned them, so a child that does not reset it never sees SIGTERM: hence the SIGKILL.
    func stop(abruptly: Bool = false) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, abruptly ? SIGKILL : SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: "\(TestPaths.pidDirectory)/\(process.processIdentifier)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit { stop() }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw TestCommandError.failed("bind 127.0.0.1:0", CommandResult(status: errno, stdout: "", stderr: "")) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
func waitForListener(port: Int, timeout: TimeInterval = 15) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if connected { return }
        usleep(50_000)
    }
    throw TestCommandError.failed("wait for 127.0.0.1:\(port)", CommandResult(status: -1, stdout: "", stderr: "nothing listened in time"))
}

/// `arguments` run on a test host under `root`: `--root`, and for the commands that build a
/// machine's files (pull, upgrade) the test busybox.
func onTestHost(_ arguments: [String], root: String) -> [String] {
    let builds = arguments.count > 1 && arguments[0] == "machines" && ["pull", "upgrade"].contains(arguments[1])
    return arguments + ["--root", root] + (builds ? ["--busybox", MachineLifecycleTests.busybox] : [])
}
