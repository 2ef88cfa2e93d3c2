import ArgumentParser
import Man8S

/// Completes a machine name from the machines of this host (the command line's `--root` and
/// `--config` taken into account), for the shell completion scripts.
enum MachineNameCompletion {
    static let kind = CompletionKind.custom { words, _, prefix in
        func value(of option: String) -> String? {
            guard let index = words.firstIndex(of: option), index + 1 < words.count else { return nil }
            return words[index + 1]
        }
        let host = HostSettings(root: value(of: "--root"), config: value(of: "--config"))
        guard let configuration = try? host.configuration() else { return [] }
        return MachineList(layout: host.layout(from: configuration)).names().filter { $0.hasPrefix(prefix) }
    }
}
