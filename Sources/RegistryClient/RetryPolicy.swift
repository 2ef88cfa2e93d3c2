import Foundation

/// When to try a failed request again: on errors where ``RegistryError/isRetryable`` holds,
/// up to ``maxAttempts`` times, waiting an exponentially growing, fully jittered delay (so many
/// clients hitting one registry do not retry in lock step), or what `Retry-After` asks.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int = 5
    public var initialDelay: Double = 0.5
    public var maxDelay: Double = 30

    public init(maxAttempts: Int = 5, initialDelay: Double = 0.5, maxDelay: Double = 30) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// Seconds to wait before attempt `attempt + 1`, after attempt number `attempt` (1-based) failed.
    public func delay(afterAttempt attempt: Int, retryAfter: Double? = nil) -> Double {
        let ceiling = min(maxDelay, initialDelay * pow(2, Double(attempt - 1)))
        let jittered = Double.random(in: ceiling / 2...ceiling)
        guard let retryAfter else { return jittered }
        return min(max(retryAfter, jittered), maxDelay * 4)
    }

    /// Reads a `Retry-After` value: delay seconds or an HTTP date.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}
