import Foundation
import Testing
@testable import RegistryClient

@Suite struct RetryPolicyTests {
    @Test func delaysGrowAndStayWithinBounds() {
        let policy = RetryPolicy(maxAttempts: 10, initialDelay: 1, maxDelay: 8)
        for attempt in 1...8 {
            let ceiling = min(8, pow(2, Double(attempt - 1)))
            let delay = policy.delay(afterAttempt: attempt)
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
    }

    @Test func retryAfterIsHonoured() {
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: 0.1, maxDelay: 30)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 7) == 7)
        #expect(RetryPolicy.parseRetryAfter("12") == 12)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:50 GMT", now: now) == 30)
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        // A registry's number is checked before it becomes a sleep: no infinity, NaN or exponent.
        for hostile in ["inf", "nan", "1e308", "-5", "0x10", "99999999999999999999999999"] {
            let parsed = RetryPolicy.parseRetryAfter(hostile)
            #expect(parsed == nil || (parsed!.isFinite && parsed! >= 0 && parsed! < 1e9), "\(hostile): \(String(describing: parsed))")
            #expect(RetryPolicy().delay(afterAttempt: 1, retryAfter: parsed) <= 120)
        }
    }

    @Test func onlyTransientErrorsAreRetryable() {
        #expect(RegistryError.transport(url: "u", message: "m", code: 7).isRetryable)
        #expect(RegistryError.httpStatus(url: "u", status: 502, detail: "").isRetryable)
        #expect(RegistryError.throttled(url: "u", status: 429, retryAfter: 3, detail: "").isRetryable)
        #expect(!RegistryError.httpStatus(url: "u", status: 404, detail: "").isRetryable)
        #expect(!RegistryError.unauthorized(registry: "r", detail: "").isRetryable)
        #expect(!RegistryError.digestMismatch(what: "x", expected: "a", actual: "b").isRetryable)
    }

    @Test func loopbackRegistriesMayUsePlainHTTP() {
        for host in ["localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:80", "[::1]:5000"] {
            #expect(RegistrySession.isLoopback(host: host), "\(host)")
        }
        for host in ["example.com", "10.0.0.1:5000", "128.0.0.1", "[::2]", "localhost.example.com"] {
            #expect(!RegistrySession.isLoopback(host: host), "\(host)")
        }
    }
}
