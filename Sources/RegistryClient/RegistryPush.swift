import Foundation
import OCILayout

/// Pushing to a registry (distribution spec, "push"): blobs first, checked with HEAD, mounted
/// from another repository of the same registry where one has them, else uploaded in one PUT
/// or in PATCH chunks; manifests last, with the source's bytes, so their digests stay.
extension RegistryClient {
    static func pushScope(_ reference: ImageReference) -> String { "repository:\(reference.repository):pull,push" }

    /// Whether `reference`'s repository has blob `descriptor` (HEAD). A registry that answers
    /// with another size than the descriptor's has something else under that digest: an error.
    public func hasBlob(_ descriptor: Descriptor, in reference: ImageReference, progress: TransferEventHandler? = nil) async throws -> Bool {
        let session = try await session(for: reference)
        let url = try await session.base() + "/\(reference.repository)/blobs/\(descriptor.digest)"
        return try await withRetries(url: url, progress: progress) {
            let response = try await session.send(.head, url: url, scope: Self.pushScope(reference))
            if response.status == 404 { return false }
            try Self.check(response, what: "blob \(descriptor.digest)")
            if let length = response.headers["Content-Length"].flatMap({ Int64($0) }), length != descriptor.size {
                throw RegistryError.invalidResponse(url: url, reason: "it holds \(length) bytes under \(descriptor.digest), the image says \(descriptor.size)")
            }
            return true
        }
    }

    /// Puts blob `descriptor` into `reference`'s repository: nothing when it is there, a mount
    /// from `mountFrom` (a repository of the same registry that has it) when the registry
    /// agrees, else an upload of the file `file` gives (its verified bytes; asked for only
    /// then, so a blob that is there or mounted need not be fetched), in chunks of `chunkSize`
    /// bytes when given. A failed attempt is retried: first a HEAD (an upload that completed
    /// although its answer was lost is not sent again), then a chunked upload goes on where the
    /// registry says it stands, anything else starts over.
    public func pushBlob(
        _ descriptor: Descriptor, file: @escaping @Sendable () async throws -> String, to reference: ImageReference,
        mountFrom: ImageReference? = nil, chunkSize: Int64? = nil, progress: TransferEventHandler? = nil
    ) async throws -> BlobPushOutcome {
        let outcome = try await uploadBlob(
            descriptor, content: .file(file), to: reference, mountFrom: mountFrom, chunkSize: chunkSize, progress: progress)
        progress?(.blobPushed(descriptor, outcome))
        return outcome
    }

    /// Puts the small blob `bytes` (a signature's payload, a config made here) into
    /// `reference`'s repository under `descriptor`, in one request, unless it is there.
    public func pushBlob(
        _ descriptor: Descriptor, bytes: Data, to reference: ImageReference, progress: TransferEventHandler? = nil
    ) async throws -> BlobPushOutcome {
        guard Int64(bytes.count) == descriptor.size, Digest.sha256(of: bytes) == descriptor.digest else {
            throw RegistryError.digestMismatch(
                what: "blob to push to \(reference.repository)", expected: descriptor.digest.description, actual: Digest.sha256(of: bytes).description)
        }
        return try await uploadBlob(descriptor, content: .bytes([UInt8](bytes)), to: reference, mountFrom: nil, chunkSize: nil, progress: progress)
    }

    /// What an upload sends: the verified file of a blob (asked for only when it must be sent)
    /// or bytes in memory.
    private enum UploadContent {
        case file(@Sendable () async throws -> String)
        case bytes([UInt8])

        /// A request body sending `length` bytes from `offset`.
        func body() async throws -> @Sendable (_ offset: Int64, _ length: Int64) -> HTTPRequestBody {
            switch self {
            case .file(let file):
                let path = try await file()
                return { .file(path: path, offset: $0, length: $1) }
            case .bytes(let bytes):
                return { .bytes(Array(bytes[Int($0)..<Int($0 + $1)])) }
            }
        }
    }

    private func uploadBlob(
        _ descriptor: Descriptor, content: UploadContent, to reference: ImageReference,
        mountFrom: ImageReference?, chunkSize: Int64?, progress: TransferEventHandler?
    ) async throws -> BlobPushOutcome {
        if try await hasBlob(descriptor, in: reference, progress: progress) { return .alreadyThere }
        let session = try await session(for: reference)
        let uploads = try await session.base() + "/\(reference.repository)/blobs/uploads/"
        // Only another repository of the same registry can lend a blob.
        let mountSource = mountFrom.flatMap { $0.registry == reference.registry && $0.repository != reference.repository ? $0 : nil }
        let scope = Self.pushScope(reference) + (mountSource.map { " repository:\($0.repository):pull" } ?? "")
        // A chunked upload the registry holds a part of: a retry asks how much and goes on
        // from there, instead of sending the blob again.
        var held: (location: String, offset: Int64)?
        var attempts = 0
        return try await withRetries(url: uploads, progress: progress) {
            attempts += 1
            if attempts > 1, try await hasBlob(descriptor, in: reference, progress: progress) { return .alreadyThere }
            var location: String
            var offset: Int64 = 0
            if let upload = held, let status = try await uploadStatus(upload.location, of: descriptor, session: session, scope: scope) {
                (location, offset) = status
            } else {
                held = nil
                var start = uploads
                if let mountSource {
                    start += "?mount=\(descriptor.digest)&from=\(Self.queryEscaped(mountSource.repository))"
                }
                let answer = try await session.send(.post, url: start, scope: scope)
                if answer.status == 201, let mountSource { return .mounted(from: mountSource.repository) }
                guard answer.status == 202 else {
                    try Self.check(answer, what: "upload to \(reference.repository)")
                    throw RegistryError.invalidResponse(url: start, reason: "status \(answer.status) where an upload should start (202)")
                }
                location = try await session.resolve(location: answer.headers["Location"], of: start)
            }
            let body = try await content.body()
            progress?(.uploadStarted(descriptor))
            let report: @Sendable (Int64, Int64) -> Void = { offset, sent in
                progress?(.uploadProgress(descriptor.digest, completed: offset + sent, total: descriptor.size))
            }
            var chunks = 0
            if let chunkSize, chunkSize > 0, descriptor.size > chunkSize {
                while offset < descriptor.size {
                    let length = min(chunkSize, descriptor.size - offset)
                    let start = offset
                    let response = try await session.send(
                        .patch, url: location, scope: scope,
                        headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(offset)-\(offset + length - 1)")],
                        body: body(offset, length), uploadProgress: { report(start, $0) })
                    guard response.status == 202 else {
                        try Self.check(response, what: "chunk of \(descriptor.digest)")
                        throw RegistryError.invalidResponse(url: location, reason: "status \(response.status) for a chunk (202 expected)")
                    }
                    location = try await session.resolve(location: response.headers["Location"], of: location)
                    offset += length
                    chunks += 1
                    held = (location, offset)
                }
            }
            let rest = descriptor.size - offset
            let sentBefore = offset
            let finish = location + (location.contains("?") ? "&" : "?") + "digest=\(descriptor.digest)"
            let response = try await session.send(
                .put, url: finish, scope: scope, headers: [("Content-Type", "application/octet-stream")],
                body: body(sentBefore, rest), uploadProgress: { report(sentBefore, $0) })
            guard response.status == 201 else {
                try Self.check(response, what: "upload of \(descriptor.digest)")
                throw RegistryError.invalidResponse(url: finish, reason: "status \(response.status) where the upload should end (201)")
            }
            try Self.checkDigestHeader(response, expected: descriptor.digest, url: finish)
            return .uploaded(chunks: chunks + (rest > 0 || chunks == 0 ? 1 : 0))
        }
    }

    /// Puts manifest or index `document` (its bytes as they are, so its digest stays) under
    /// `tag`, or under its digest when `tag` is nil; the registry must not report another digest.
    public func pushManifest(_ document: ManifestDocument, to reference: ImageReference, tag: String?, progress: TransferEventHandler? = nil) async throws {
        let session = try await session(for: reference)
        let url = try await session.base() + "/\(reference.repository)/manifests/\(tag ?? document.digest.description)"
        try await withRetries(url: url, progress: progress) {
            let response = try await session.send(
                .put, url: url, scope: Self.pushScope(reference), headers: [("Content-Type", document.mediaType)],
                body: .bytes([UInt8](document.data)))
            guard response.status == 201 || response.status == 200 else {
                try Self.check(response, what: "manifest \(reference.repository):\(tag ?? document.digest.description)")
                throw RegistryError.invalidResponse(url: url, reason: "status \(response.status) for a manifest (201 expected)")
            }
            try Self.checkDigestHeader(response, expected: document.digest, url: url)
        }
        progress?(.manifestPushed(Descriptor(mediaType: document.mediaType, digest: document.digest, size: Int64(document.data.count)), tag: tag))
    }

    /// Where the upload at `location` stands (distribution spec: GET answers 204 with `Range:
    /// 0-LAST`): its next location and how many bytes the registry holds; nil when the upload
    /// is gone or the answer makes no sense for `descriptor`, so the upload starts over.
    private func uploadStatus(
        _ location: String, of descriptor: Descriptor, session: RegistrySession, scope: String
    ) async throws -> (location: String, offset: Int64)? {
        let response = try await session.send(.get, url: location, scope: scope)
        guard response.status == 204, let range = response.headers["Range"] else { return nil }
        let bounds = range.split(separator: "-", omittingEmptySubsequences: false)
        // "0-0" may mean nothing or one byte: start over rather than guess.
        guard bounds.count == 2, bounds[0] == "0", let last = Int64(bounds[1]), last > 0, last < descriptor.size else { return nil }
        let next = try await session.resolve(location: response.headers["Location"] ?? location, of: location)
        return (next, last + 1)
    }

    /// A registry that names another digest than the one sent stored something else.
    private static func checkDigestHeader(_ response: HTTPResponse, expected: Digest, url: String) throws {
        guard let header = response.headers["Docker-Content-Digest"] else { return }
        guard let reported = try? Digest(parsing: header), reported == expected else {
            throw RegistryError.digestMismatch(what: "what \(url) stored", expected: expected.description, actual: header)
        }
    }

    private static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
