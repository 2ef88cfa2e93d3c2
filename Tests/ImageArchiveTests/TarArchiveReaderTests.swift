import Foundation
import TestSupport
import Testing
@testable import ImageArchive

/// The archive reader on tars from Python's tarfile (PAX, GNU, gzip) and on hand-made hostile
/// headers that crashed the hand-written reader it replaced.
@Suite struct TarArchiveReaderTests {
    let directory = NSTemporaryDirectory() + "mbctl-tar-\(UUID().uuidString)"

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func python(_ script: String, _ arguments: [String]) throws {
        try runCommand(["python3", "-c", script] + arguments)
    }

    func makeTar(format: String, gzip: Bool = false) throws -> String {
        let path = "\(directory)/t.tar" + (gzip ? ".gz" : "")
        try python(
            """
            import io, sys, tarfile
            mode = "w:gz" if sys.argv[3] == "gz" else "w"
            with tarfile.open(sys.argv[1], mode, format=getattr(tarfile, sys.argv[2])) as tar:
                for name, data in [("short", b"abc"), ("d/" + "n" * 150, b"long name"), ("big", bytes(range(256)) * 5000), ("ünï", b"u")]:
                    info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
                link = tarfile.TarInfo("link"); link.type = tarfile.SYMTYPE; link.linkname = "t" * 120; tar.addfile(link)
            """, [path, format, gzip ? "gz" : "plain"])
        return path
    }

    func entries(_ path: String) throws -> [(String, Data, String)] {
        let reader = try TarArchiveReader(path: path)
        var result: [(String, Data, String)] = []
        while let entry = try reader.next() {
            result.append((entry.name, entry.kind == .regular ? try reader.readAll(entry, limit: 1 << 24) : Data(), entry.linkName))
        }
        return result
    }

    @Test(arguments: [("PAX_FORMAT", false), ("GNU_FORMAT", false), ("PAX_FORMAT", true)])
    func readsLongNamesAndData(format: String, gzip: Bool) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let read = try entries(makeTar(format: format, gzip: gzip))
        #expect(read.map(\.0) == ["short", "d/" + String(repeating: "n", count: 150), "big", "ünï", "link"])
        #expect(read[0].1 == Data("abc".utf8))
        #expect(read[1].1 == Data("long name".utf8))
        #expect(read[2].1 == Data((0..<5000 * 256).map { UInt8(truncatingIfNeeded: $0) }))
        #expect(read[4].2 == String(repeating: "t", count: 120))
    }

    @Test func refusesATruncatedOrCorruptArchive() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try makeTar(format: "PAX_FORMAT")
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = "\(directory)/cut.tar"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        #expect {
            try entries(truncated)
        } throws: { error in
            "\(error)".contains("archive \(truncated): it is truncated")
        }
        data[10] ^= 0x01
        let corrupt = "\(directory)/corrupt.tar"
        try data.write(to: URL(fileURLWithPath: corrupt))
        #expect(throws: ArchiveError.self) { try entries(corrupt) }
    }

    /// A PAX header with `records`, then a regular entry `index.json` of `size` bytes.
    func paxArchive(records: String, name: String) throws -> String {
        let path = "\(directory)/\(name).tar"
        try python(
            """
            import sys, tarfile
            def header(name, size, kind):
                info = tarfile.TarInfo(name); info.size = size; info.type = kind
                return info.tobuf(format=tarfile.USTAR_FORMAT)
            records = sys.argv[2].encode()
            pad = lambda n: b"\\0" * ((512 - n % 512) % 512)
            data = header("pax", len(records), tarfile.XHDTYPE) + records + pad(len(records))
            data += header("index.json", 4, tarfile.REGTYPE) + b"{}\\n\\n" + pad(4) + b"\\0" * 1024
            open(sys.argv[1], "wb").write(data)
            """, [path, records])
        return path
    }

    /// Each of these made the hand-written reader trap (a range with lowerBound > upperBound, a
    /// negative allocation): now each is read or refused, never a crash.
    @Test(arguments: ["2 x", "1 ", "0 ", "99999999999999999999 path=x\n", "12 size=-1\n", "30 size=99999999999999999999\n", "9 size=\n"])
    func hostilePAXRecordsNeverCrash(records: String) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try paxArchive(records: records, name: "pax")
        do {
            let read = try entries(path)
            for (name, data, _) in read { #expect(data.count <= 4, "\(name)") }
        } catch let error as ArchiveError {
            #expect("\(error)".contains("archive \(path)"))
        }
    }
}
