import Foundation
@_exported import TestSupport

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
}

/// The environment mbctl runs in under test: no skopeo or umoci on PATH (mbctl must never need
/// them) and none of the host's auth files.
func mbctlEnvironment(home: String? = nil) -> [String: String] {
    ["PATH": "/nonexistent", "HOME": home ?? "/nonexistent"]
}

/// Runs the mbctl under test to completion.
@discardableResult
func runMbctl(
    _ arguments: [String], home: String? = nil, environment: [String: String] = [:], check: Bool = false, deadline: Int = defaultCommandDeadline
) throws -> CommandResult {
    try runCommand(
        [TestPaths.mbctl] + arguments, environment: mbctlEnvironment(home: home).merging(environment) { $1 }, check: check, deadline: deadline)
}

/// `arguments` run on a test host under `root`: `--root`, and for the commands that build a
/// machine's files (pull, upgrade) the test busybox.
func onTestHost(_ arguments: [String], root: String) -> [String] {
    let builds = arguments.count > 1 && arguments[0] == "machines" && ["pull", "upgrade"].contains(arguments[1])
    return arguments + ["--root", root] + (builds ? ["--busybox", MachineLifecycleTests.busybox] : [])
}
