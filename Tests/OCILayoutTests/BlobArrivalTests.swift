import Foundation
import Testing
@testable import OCILayout

/// A reader of a blob while it arrives gets exactly the blob's bytes, whatever the download
/// does (pieces, a restart from zero, a resume), and hears when it will not come.
@Suite struct BlobArrivalTests {
    let directory: TemporaryDirectory
    let blob: Data

    init() throws {
        directory = try TemporaryDirectory()
        blob = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 251) })
    }

    var descriptor: Descriptor { Descriptor(mediaType: MediaType.ociLayer, digest: .sha256(of: blob), size: Int64(blob.count)) }

    func store() throws -> (ContentStore, BlobArrival) {
        let arrivals = BlobArrivals()
        let store = try ImageLayout.openOrCreate(at: directory.path + "/layout").store.reporting(to: arrivals)
        return (store, arrivals.watch(descriptor))
    }

    /// Reads the whole blob from `arrival` on a thread of its own (a reader blocks while bytes
    /// are to come: never on the Swift concurrency pool).
    final class Reader: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Result<Data, Error> = .success(Data())

        init(_ arrival: BlobArrival) {
            let thread = Thread { [self] in
                result = Result {
                    var data = Data()
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
                    defer { buffer.deallocate() }
                    while true {
                        let got = try arrival.read(into: buffer, at: Int64(data.count))
                        if got == 0 { return data }
                        data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                    }
                }
                done.signal()
            }
            thread.start()
        }

        func value() throws -> Data {
            done.wait()
            return try result.get()
        }
    }

    func readAll(_ arrival: BlobArrival) -> Reader { Reader(arrival) }

    func append(_ range: Range<Int>, to ingest: BlobIngest, pieces: Int = 10) throws {
        let step = max(1, range.count / pieces)
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + step, range.upperBound)
            try blob[start..<end].withUnsafeBytes { try ingest.append($0) }
            start = end
        }
    }

    @Test func theReaderGetsTheBlobAcrossARestart() throws {
        let (store, arrival) = try store()
        let reader = readAll(arrival)
        let ingest = try store.beginIngest(descriptor)
        try append(0..<1_000_000, to: ingest)
        // The server ignored a range request: everything again from zero.
        try ingest.restart()
        try append(0..<blob.count, to: ingest)
        try ingest.commit()
        #expect(try reader.value() == blob)
        #expect(arrival.isComplete)
    }

    @Test func aResumedDownloadContinuesTheSameStream() throws {
        // An earlier run (another process: no one watched) died half-way; its partial file stays.
        do {
            let first = try ImageLayout.openOrCreate(at: directory.path + "/layout").store.beginIngest(descriptor)
            try append(0..<1_234_567, to: first)
        }
        let (store, arrival) = try store()
        let reader = readAll(arrival)
        let second = try store.beginIngest(descriptor)
        #expect(second.offset == 1_234_567)
        try append(1_234_567..<blob.count, to: second)
        try second.commit()
        #expect(try reader.value() == blob)
    }

    @Test func aReaderHearsWhenTheBlobWillNotCome() throws {
        let (store, arrival) = try store()
        let reader = readAll(arrival)
        do {
            let ingest = try store.beginIngest(descriptor)
            try append(0..<100_000, to: ingest)
        }  // ends without a commit
        #expect(throws: BlobArrival.ArrivalError.self) { try reader.value() }
    }

    @Test func aStoredBlobIsReadFromDisk() throws {
        let (store, arrival) = try store()
        try store.write(blob, as: descriptor)
        let ingest = try store.beginIngest(descriptor)
        #expect(ingest.isAlreadyStored)
        #expect(try readAll(arrival).value() == blob)
    }
}
