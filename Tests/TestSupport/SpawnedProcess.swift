import Foundation

/// A child process started with `posix_spawn`, not Foundation's `Process`: that one runs a
/// run-loop thread of its own to watch its children, and was seen to hang a test run for good
/// (and cannot start at all without a loopback interface). The child starts with no signal
/// blocked and default dispositions, so SIGTERM and SIGINT reach it as they would from a shell.
public final class SpawnedProcess: @unchecked Sendable {
    public let processIdentifier: pid_t
    private let lock = NSLock()
    private var status: Int32?

    /// Starts `arguments[0]` (looked up in `PATH`), its standard input from /dev/null and its
    /// output into `outputPath` and `errorPath` (appended), with `environment` (else this one's).
    public init(_ arguments: [String], environment: [String: String]?, outputPath: String, errorPath: String) throws {
        let command = arguments.joined(separator: " ")
        func check(_ result: Int32, _ call: String) throws {
            guard result == 0 else {
                throw TestCommandError.failed(command, CommandResult(status: result, stdout: "", stderr: "\(call): \(String(cString: strerror(result)))"))
            }
        }
        var actions = posix_spawn_file_actions_t()
        try check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init")
        defer { posix_spawn_file_actions_destroy(&actions) }
        try check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "open /dev/null")
        try check(posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644), "open \(outputPath)")
        try check(posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644), "open \(errorPath)")
        var attributes = posix_spawnattr_t()
        try check(posix_spawnattr_init(&attributes), "posix_spawnattr_init")
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT] { sigaddset(&defaults, number) }
        try check(posix_spawnattr_setsigmask(&attributes, &none), "posix_spawnattr_setsigmask")
        try check(posix_spawnattr_setsigdefault(&attributes, &defaults), "posix_spawnattr_setsigdefault")
        try check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)), "posix_spawnattr_setflags")

        let variables = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        // PATH lookup in this process's PATH when the child's environment has none.
        try check(posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp), "posix_spawnp \(arguments[0])")
        processIdentifier = pid
    }

    /// Collects the exit status if the child has ended; true while it runs.
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if status != nil { return false }
        var raw: Int32 = 0
        let result = waitpid(processIdentifier, &raw, WNOHANG)
        if result == processIdentifier { status = raw }
        return status == nil
    }

    /// Waits for the child to end (callers bound this: see ``BackgroundProcess/waitForExit(within:)``).
    public func waitUntilExit() {
        while isRunning { usleep(10_000) }
    }

    /// The exit code, or 128 + the signal that ended it (as a shell reports it); -1 while it runs.
    public var terminationStatus: Int32 {
        guard !isRunning, let raw = status else { return -1 }
        if raw & 0x7f == 0 { return (raw >> 8) & 0xff }
        return 128 + (raw & 0x7f)
    }

    /// Whether a signal ended the child.
    public var endedBySignal: Bool {
        guard !isRunning, let raw = status else { return false }
        return raw & 0x7f != 0
    }
}
