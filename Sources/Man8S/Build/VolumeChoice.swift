import Foundation

/// Where an image volume goes on the host (docs/host-contract.md, section 3, step 2).
public enum VolumeChoice: Sendable, Equatable {
    /// Below the machine's configuration directory.
    case config
    /// Below the machine's data directory.
    case data
    /// Not mapped: it stays in the (disposable) rootfs.
    case skip
    /// An absolute host path that must not exist yet.
    case custom(String)

    /// Reads `config`, `data`, `skip`, `1`–`4` as the Python prompt numbered them, or an absolute path.
    public init(parsing text: String) throws {
        switch text.trimmingCharacters(in: .whitespaces) {
        case "config", "1": self = .config
        case "data", "2": self = .data
        case "skip", "4": self = .skip
        case let path where path.hasPrefix("/"): self = .custom(path)
        default:
            throw Man8SError.invalidVolume(text, reason: "expected config, data, skip or an absolute host path")
        }
    }

    /// Reads `--volume /path=CHOICE`.
    public static func parseFlag(_ flag: String) throws -> (path: String, choice: VolumeChoice) {
        guard let equals = flag.firstIndex(of: "="), flag.hasPrefix("/") else {
            throw Man8SError.invalidVolume(flag, reason: "expected /container/path=config|data|skip|/host/path")
        }
        return (String(flag[..<equals]), try VolumeChoice(parsing: String(flag[flag.index(after: equals)...])))
    }
}

/// Asks where a volume goes when no `--volume` answers it (nil: no terminal to ask on).
public typealias VolumeQuestion = @Sendable (String) -> VolumeChoice?
