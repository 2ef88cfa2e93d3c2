import Crypto
import Foundation

/// A content digest, `algorithm:encoded`, as used throughout the OCI specifications.
///
/// Only `sha256` is accepted: it is what every registry and image tool writes, and refusing the
/// rest keeps a hostile manifest from steering us to an algorithm we do not verify.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let algorithm: String
    /// The lower-case hex encoding of the hash.
    public let encoded: String

    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else { throw OCILayoutError.invalidDigest(text) }
        let algorithm = String(text[..<colon])
        let encoded = String(text[text.index(after: colon)...])
        guard algorithm == "sha256" else {
            if algorithm.isEmpty || encoded.isEmpty { throw OCILayoutError.invalidDigest(text) }
            throw OCILayoutError.unsupportedDigestAlgorithm(text)
        }
        guard encoded.utf8.count == 64, encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw OCILayoutError.invalidDigest(text)
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    init(sha256 hash: SHA256.Digest) {
        self.algorithm = "sha256"
        self.encoded = hash.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The SHA-256 digest of `data`.
    public static func sha256<D: DataProtocol>(of data: D) -> Digest {
        Digest(sha256: SHA256.hash(data: data))
    }

    public var description: String { "\(algorithm):\(encoded)" }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    /// Throws ``OCILayoutError/digestMismatch(expected:actual:)`` unless `data` hashes to this digest.
    public func verify<D: DataProtocol>(_ data: D) throws {
        let actual = Digest.sha256(of: data)
        guard actual == self else { throw OCILayoutError.digestMismatch(expected: self, actual: actual) }
    }
}

extension Digest: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(parsing: container.decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Computes a SHA-256 ``Digest`` over data that arrives in pieces, such as a blob being streamed.
public struct StreamingDigester: Sendable {
    private var hasher = SHA256()
    public private(set) var byteCount: Int64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        byteCount += Int64(bytes.count)
    }

    public func finalize() -> Digest {
        Digest(sha256: hasher.finalize())
    }
}
