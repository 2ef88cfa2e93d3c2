import Foundation
import OCILayout

extension RegistryClient {
    /// The blob `descriptor` names, read into memory: a small document such as a signature's
    /// payload. Refused when the descriptor claims more than `limit` bytes, when more arrive,
    /// and when the bytes do not match the digest.
    public func fetchSmallBlob(
        _ descriptor: Descriptor, of reference: ImageReference, asMirror: Bool = false, insecure: Bool = false, limit: Int64,
        progress: TransferEventHandler? = nil
    ) async throws -> Data {
        guard descriptor.size <= limit else {
            throw RegistryError.content(.tooLarge(what: "blob \(descriptor.digest) of \(reference.repository)", size: descriptor.size, limit: limit))
        }
        let session = try await session(for: reference, asMirror: asMirror, insecure: insecure)
        let path = "/\(reference.repository)/blobs/\(descriptor.digest)"
        let response = try await withRetries(url: "\(reference.registry)/v2\(path)", progress: progress) {
            let response = try await session.send(path: path, scope: Self.pullScope(reference), bufferLimit: limit)
            try Self.check(response, what: "blob \(descriptor.digest) of \(reference.repository)")
            return response
        }
        let data = Data(response.body)
        let actual = Digest.sha256(of: data)
        guard actual == descriptor.digest, data.count == descriptor.size else {
            throw RegistryError.digestMismatch(what: "blob of \(reference.repository)", expected: descriptor.digest.description, actual: actual.description)
        }
        return data
    }
}
