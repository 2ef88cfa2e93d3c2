import Foundation
import ImageAccess
import OCILayout

/// `mbctl machines apply FILE`: makes the host's machines what a ``MachinesFile`` says, in
/// dependency order (a machine after those it requires or resolves through): makes those that
/// are missing, upgrades those whose image reference changed or whose image has a new digest,
/// gives each the settings of the file (restarting it when it runs), enables and starts those
/// that should run. A machine that is as the file says is not touched: no file written, no
/// restart. Machines not in the file are left alone, or removed with `prune`.
public struct MachinesApply: Sendable {
    public var build: MachineBuild
    /// This mbctl, for the units' drop-ins.
    public var recovery: RecoveryCommand?
    /// Whether the layout is the running host's (false with `--root`).
    public var checksHost = true
    /// Kept generations (`[machines] keep_generations`).
    public var keep = 1
    public var systemd = Systemd()

    public init(build: MachineBuild) {
        self.build = build
    }

    /// What is to be done to one machine.
    public enum Action: Equatable, Sendable, CustomStringConvertible {
        case make(image: String)
        /// The file names another image than the machine was made from.
        case upgrade(from: String?, to: String)
        /// The same image: upgraded only when its digest has changed.
        case checkImage(String)
        case configure(summary: [String])
        case enable, disable, start
        /// Not in the file (`--prune`).
        case remove

        public var description: String {
            switch self {
            case .make(let image): return "make it from \(image)"
            case .upgrade(let from, let to): return "upgrade it from \(from ?? "its unrecorded image") to \(to)"
            case .checkImage(let image): return "upgrade it if \(image) has a new digest"
            case .configure(let summary): return "set " + (summary.isEmpty ? "no service settings" : summary.joined(separator: "; "))
            case .enable: return "enable it at boot"
            case .disable: return "disable it at boot"
            case .start: return "start it"
            case .remove: return "remove it (not in the file)"
            }
        }
    }

    public struct Step: Sendable {
        public var name: MachineName
        public var actions: [Action]
        /// The spec it is brought to (nil for a machine to remove).
        public var spec: MachineSpec?
    }

    /// The steps that bring the host to `file`, in the order they run. Refuses, before anything
    /// changes, a file whose machines require each other in a circle, or require a machine that
    /// is neither in the file nor on the host.
    public func plan(_ file: MachinesFile, prune: Bool) throws -> [Step] {
        let layout = build.layout
        let directories = try MachineDirectories.openExisting(layout)
        let onHost = Set(MachineList(layout: layout).names())
        var steps: [Step] = []
        for spec in try Self.ordered(file.machines, onHost: onHost) {
            let name = spec.name
            guard let directories, try directories.exists(name) else {
                steps.append(Step(name: name, actions: [.make(image: spec.image)] + (spec.enabled ? [.enable, .start] : []), spec: spec))
                continue
            }
            var actions: [Action] = []
            let record = try directories.record(of: name)
            actions.append(record?.image == spec.image ? .checkImage(spec.image) : .upgrade(from: record?.image, to: spec.image))
            if try MachineSettings.read(of: name, in: directories) != spec.settings { actions.append(.configure(summary: spec.settings.summary)) }
            let unit = systemd.state(name)
            if spec.enabled, let unit, unit.file != "enabled" { actions.append(.enable) }
            if !spec.enabled, unit?.file == "enabled" { actions.append(.disable) }
            if spec.enabled, !RunningMachines.isRunning(name, layout: layout) { actions.append(.start) }
            steps.append(Step(name: name, actions: actions, spec: spec))
        }
        if prune {
            let wanted = Set(file.machines.map(\.name.value))
            for other in onHost.sorted() where !wanted.contains(other) {
                steps.append(Step(name: try MachineName(other), actions: [.remove], spec: nil))
            }
        }
        return steps
    }

    /// `machines` with each after those it depends on (the file's order otherwise).
    static func ordered(_ machines: [MachineSpec], onHost: Set<String>) throws -> [MachineSpec] {
        let byName = Dictionary(machines.map { ($0.name.value, $0) }, uniquingKeysWith: { first, _ in first })
        for spec in machines {
            for dependency in spec.dependencies where byName[dependency] == nil && !onHost.contains(dependency) {
                throw Man8SError.invalidSetting(
                    "machines.\(spec.name)", reason: "it requires machine \(dependency), which is neither in the file nor on the host")
            }
        }
        return try DependencyOrder.sorted(machines.map(\.name.value)) { byName[$0]?.dependencies ?? [] }.compactMap { byName[$0] }
    }

    /// What happened to a machine, as it happens.
    public typealias Report = @Sendable (_ name: MachineName, _ what: String) -> Void

    /// Carries `steps` out. `prefix` is asked for only when a machine is made.
    public func apply(
        _ steps: [Step], prefix: @Sendable () async throws -> IPv6Prefix, progress: TransferEventHandler? = nil, report: Report
    ) async throws {
        let layout = build.layout
        for step in steps {
            try Task.checkCancellation()
            let name = step.name
            var changed = false
            for action in step.actions {
                switch action {
                case .make(let image):
                    guard let spec = step.spec else { continue }
                    var pull = MachinePull(build: build)
                    pull.settings = spec.settings
                    pull.recovery = recovery
                    pull.checksHost = checksHost
                    let outcome = try await pull.pull(
                        try ImageLocation(parsing: image), as: image, name: name, prefix: try await prefix(), volumes: spec.volumes, progress: progress)
                    for warning in outcome.warnings { report(name, "warning: \(warning)") }
                    report(name, "made from \(image) (\(outcome.imageDigest)), address \(outcome.address)")
                    changed = true
                case .upgrade(_, let image), .checkImage(let image):
                    guard let spec = step.spec else { continue }
                    var upgrade = MachineUpgrade(build: build)
                    upgrade.restart = true
                    upgrade.keep = keep
                    switch try await upgrade.upgrade(name, from: image, volumes: spec.volumes, progress: progress) {
                    case .upToDate: break
                    case .upgraded(let upgraded):
                        for warning in upgraded.warnings { report(name, "warning: \(warning)") }
                        report(name, "upgraded to \(image) (\(upgraded.to)), generation \(upgraded.generation)" + (upgraded.restarted ? ", restarted" : ""))
                        changed = true
                    }
                case .configure:
                    guard let spec = step.spec else { continue }
                    var configure = MachineConfigure(layout: layout)
                    configure.recovery = recovery
                    configure.checksHost = checksHost
                    let outcome = try configure.configure(name, to: spec.settings, restart: true)
                    report(
                        name,
                        "settings: " + (spec.settings.summary.isEmpty ? "none" : spec.settings.summary.joined(separator: "; "))
                            + (outcome.restarted ? "; restarted" : ""))
                    changed = true
                case .enable:
                    try lifecycle.enable(name)
                    report(name, "enabled at boot")
                    changed = true
                case .disable:
                    try lifecycle.disable(name)
                    report(name, "disabled at boot")
                    changed = true
                case .start:
                    try lifecycle.start(name)
                    report(name, "started")
                    changed = true
                case .remove:
                    let outcome = try MachineRemoval(layout: layout).remove(name, force: true)
                    for warning in outcome.warnings { report(name, "warning: \(warning)") }
                    report(name, "removed (not in the file)")
                    changed = true
                }
            }
            if !changed { report(name, "up to date") }
        }
    }

    private var lifecycle: MachineLifecycle {
        var lifecycle = MachineLifecycle(layout: build.layout)
        lifecycle.recovery = recovery
        lifecycle.systemd = systemd
        return lifecycle
    }
}
