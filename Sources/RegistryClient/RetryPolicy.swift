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
        guard let retryAfter, retryAfter.isFinite else { return jittered }
        return min(max(retryAfter, jittered), maxDelay * 4)
    }

    /// Reads a `Retry-After` value: delay seconds or an HTTP date.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        // Only whole decimal seconds (RFC 9110): no "inf", "nan", exponents or signs.
        if value.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) {
            return Double(value.prefix(9)) ?? 0
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        let seconds = date.timeIntervalSince(now)
        return seconds.isFinite ? max(0, seconds) : nil
    }
}
