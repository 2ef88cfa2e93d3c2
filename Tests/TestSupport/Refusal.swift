/// What `body` threw, as its description, or "accepted" when it threw nothing: for tests that
/// check the message a refusal gives.
public func refusal(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "accepted"
    } catch {
        return "\(error)"
    }
}
