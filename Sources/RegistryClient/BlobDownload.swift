import Foundation
import OCILayout
import BlockingWork

extension RegistryClient {
    /// Downloads the blob `descriptor` names into `store`, unless it is there already.
    ///
    /// The blob streams to disk through a ``BlobIngest`` and is hashed as it arrives. A broken
    /// transfer is retried (see ``RetryPolicy``) and resumed with `Range: bytes=N-` from what is
    /// already on disk; a server that answers the range with anything but a matching 206 makes
    /// the download start over. Bytes that do not match the digest are refused and deleted.
    public func fetchBlob(
        _ descriptor: Descriptor, of reference: ImageReference, asMirror: Bool = false, insecure: Bool = false, into store: ContentStore,
        progress: TransferEventHandler? = nil
    ) async throws {
        // Waits for another process's lock on the blob, and re-reads a partial file: a thread's work.
        let ingest = try await BlockingWork.run { try UncheckedIngest(store.beginIngest(descriptor)) }.ingest
        if ingest.isAlreadyStored {
            progress?(.blobSkipped(descriptor))
            return
        }
        let session = try await session(for: reference, asMirror: asMirror, insecure: insecure)
        let path = "/\(reference.repository)/blobs/\(descriptor.digest)"
        let sink = BlobSink(ingest: ingest, progress: progress)
        var isFirstAttempt = true
        try await withRetries(url: "\(reference.registry)/v2\(path)", progress: progress) {
            if isFirstAttempt || ingest.offset > 0 {
                progress?(.blobStarted(descriptor, resumingAt: ingest.offset))
            }
            isFirstAttempt = false
            if ingest.offset == descriptor.size {
                return
            }
            let headers = ingest.offset > 0 ? [(name: "Range", value: "bytes=\(ingest.offset)-")] : []
            let response = try await session.send(path: path, scope: Self.pullScope(reference), headers: headers, sink: sink)
            if response.status == 416 {
                // Our partial file is no prefix the server recognises: start over.
                try ingest.restart()
                throw RegistryError.downloadRestarted(url: response.head.url, reason: "the server could not satisfy the range")
            }
            try Self.check(response, what: "blob \(descriptor.digest) of \(reference.repository)")
        }
        do {
            let committing = UncheckedIngest(ingest)
            try await BlockingWork.run { try committing.ingest.commit() }
        } catch let error as OCILayoutError {
            throw RegistryError.content(error)
        }
        progress?(.blobFinished(descriptor.digest))
    }
}

/// Streams a blob response into its ingest, checking that a 206 continues where we stopped.
///
/// `@unchecked Sendable`: libcurl calls it on the one transfer thread, one call at a time
/// (``ResponseBodySink``); its ingest is used by nobody else meanwhile.
final class BlobSink: ResponseBodySink, @unchecked Sendable {
    let ingest: BlobIngest
    let progress: TransferEventHandler?

    init(ingest: BlobIngest, progress: TransferEventHandler?) {
        self.ingest = ingest
        self.progress = progress
    }

    func begin(_ head: HTTPResponseHead) throws {
        if head.status == 206 {
            let expected = "bytes \(ingest.offset)-\(ingest.descriptor.size - 1)/\(ingest.descriptor.size)"
            let actual = head.headers["Content-Range"]?.trimmingCharacters(in: .whitespaces)
            guard actual == expected || actual == "bytes \(ingest.offset)-\(ingest.descriptor.size - 1)/*" else {
                try ingest.restart()
                let answer = actual ?? "no Content-Range"
                throw RegistryError.downloadRestarted(url: head.url, reason: "the server answered the range with \(answer)")
            }
        } else if ingest.offset > 0 {
            // A plain 200: the server ignored our range and sends the whole blob.
            try ingest.restart()
        }
    }

    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try ingest.append(bytes)
        } catch let error as OCILayoutError {
            throw RegistryError.content(error)
        }
    }

    func progress(received: Int64, expected: Int64) {
        progress?(.blobProgress(ingest.descriptor.digest, completed: ingest.offset, total: ingest.descriptor.size))
    }
}

/// A ``BlobIngest`` handed between a task and a blocking thread: used by one at a time.
struct UncheckedIngest: @unchecked Sendable {
    let ingest: BlobIngest

    init(_ ingest: BlobIngest) { self.ingest = ingest }
}
