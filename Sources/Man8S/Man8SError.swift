import Foundation
import SystemErrors

/// Errors of the Man8S layer: machines, their files and addresses. Each names what is at fault.
public enum Man8SError: Error, Equatable, CustomStringConvertible {
    case invalidPrefix(String, reason: String)
    case targetNotEmpty(String)
    case invalidImage(reason: String)
    /// One of the image's volumes cannot be used: `cause` says which and why.
    case invalidImageVolume(cause: ErrorCause)
    case invalidMachineName(String, reason: String)
    case unrepresentable(what: String, reason: String)
    case invalidVolume(String, reason: String)
    /// A service setting (`--port`, `--memory`, …) that cannot be used.
    case invalidSetting(String, reason: String)
    case autoUpdateRunning
    case volumeUnanswered(String)
    case machineExists(String)
    /// Other machines require it (`--require`).
    case machineRequired(String, by: [String])
    case noSuchMachine(String)
    case addressCollision(name: String, address: String, other: String)
    /// A running machine, which the command leaves alone unless given `flag`.
    case machineRunning(String, flag: String)
    case machineBusy(String, process: Int32?, doing: String?)
    /// No systemd-nspawn runs machine NAME, whose rootfs is `directory`.
    case notRunning(String, directory: String)
    case noPrefix(reasons: [String])
    case yggdrasil(source: String, reason: String)
    case noPreviousGeneration(String)
    case systemd(command: String, reason: String)
    case configuration(path: String, line: Int, reason: String)
    /// A record mbctl keeps of a machine (`.generations/NAME/…`) cannot be used.
    case damagedRecord(path: String, reason: String)
    /// An upgrade without SRC of a machine mbctl has no record of the image of.
    case unrecordedImage(String)
    /// A machine's `man8env.env` is not a file mbctl can carry over.
    case unusableEnvironmentFile(path: String, reason: String)

    /// `text` cut to 200 characters for a message: a name from an image may be of any length.
    static func shortened(_ text: String) -> String {
        text.count <= 200 ? text : text.prefix(200) + "… (\(text.count) characters)"
    }

    public var description: String {
        switch self {
        case .invalidPrefix(let text, let reason): return "invalid yggdrasil prefix \"\(text)\": \(reason)"
        case .targetNotEmpty(let path): return "\(path) exists and is not an empty directory; choose another path or empty it"
        case .invalidImage(let reason): return "invalid image: \(reason)"
        case .invalidImageVolume(let cause): return "invalid image: \(cause)"
        case .invalidMachineName(let name, let reason): return "invalid machine name \"\(name)\": \(reason)"
        case .unrepresentable(let what, let reason): return "cannot write \(what): \(reason)"
        case .invalidVolume(let text, let reason): return "invalid volume \"\(Self.shortened(text))\": \(reason)"
        case .invalidSetting(let text, let reason): return "invalid setting \"\(Self.shortened(text))\": \(reason)"
        case .autoUpdateRunning: return "another mbctl machines auto-update runs on this host; try again when it is done"
        case .volumeUnanswered(let path):
            return "the image has a volume \(path) and no terminal to ask where it goes; pass --volume \(path)=config|data|skip|/host/path"
        case .machineExists(let name): return "machine \(name) already exists; remove it first (mbctl machines remove \(name)) or choose another name"
        case .noSuchMachine(let name): return "no such machine: \(name)"
        case .machineRequired(let name, let dependents):
            return
                "machine \(name) is required by \(dependents.joined(separator: ", ")) (--require or --dns); undo that first (mbctl machines configure \(dependents.first ?? "…") --no-require \(name), or --dns none)"
        case .addressCollision(let name, let address, let other):
            return "machine \(name) would get yggdrasil address \(address), which machine \(other) already has; choose another name"
        case .machineRunning(let name, let flag): return "machine \(name) is running; stop it first, or pass \(flag)"
        case .machineBusy(let name, let process, let doing):
            return "machine \(name) is being \(doing ?? "changed") by " + (process.map { "process \($0)" } ?? "another mbctl process")
                + "; try again when it is done"
        case .noPrefix(let reasons):
            return "no yggdrasil prefix: pass --prefix (e.g. 300:2e98:a4b0:1789::/64) or run yggdrasil (" + reasons.joined(separator: "; ") + ")"
        case .noPreviousGeneration(let name): return "machine \(name) has no previous generation to roll back to"
        case .systemd(let command, let reason): return "\(command): \(reason)"
        case .yggdrasil(let source, let reason): return "cannot learn the yggdrasil prefix from \(source): \(reason)"
        case .configuration(let path, let line, let reason): return line > 0 ? "\(path), line \(line): \(reason)" : "\(path): \(reason)"
        case .damagedRecord(let path, let reason):
            return "mbctl's record \(path) cannot be used: \(reason); restore it, or remove it and give the image (mbctl machines upgrade NAME SRC)"
        case .unrecordedImage(let name):
            return "mbctl has no record of the image machine \(name) was made from (it was made by an older mbctl); give it: mbctl machines upgrade \(name) SRC"
        case .unusableEnvironmentFile(let path, let reason): return "\(path) cannot be carried into the new generation: \(reason)"
        case .notRunning(let name, let directory):
            return "machine \(name) is not running (no systemd-nspawn runs it); start it with systemd-nspawn -M \(name) -D \(directory)"
        }
    }
}
