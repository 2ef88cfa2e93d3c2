import Synchronization

/// Raised when the task that started some blocking work was cancelled.
public final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    public init() {}

    func raise() { raised.store(true, ordering: .relaxed) }

    public var isRaised: Bool { raised.load(ordering: .relaxed) }

    /// Throws `CancellationError` once raised.
    public func check() throws {
        if isRaised { throw CancellationError() }
    }
}
