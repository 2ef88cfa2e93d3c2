import Foundation

/// Where a requirement's keys are: one file, several files, or the key itself inline
/// (`keyPath`, `keyPaths`, `keyData`, `keyDatas` in containers-policy.json(5); exactly one).
public enum KeySource: Equatable, Sendable {
    case paths([String])
    case data([Data])
}
