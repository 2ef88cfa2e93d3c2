import Foundation
import Testing
@testable import OCILayout

@Suite struct TarReaderTests {
    func makeTar(format: String, in directory: TemporaryDirectory, gzip: Bool = false) throws -> String {
        let path = "\(directory.path)/t.tar" + (gzip ? ".gz" : "")
        let script = """
        import io, sys, tarfile
        mode = "w:gz" if sys.argv[3] == "gz" else "w"
        with tarfile.open(sys.argv[1], mode, format=getattr(tarfile, sys.argv[2])) as tar:
            for name, data in [("short", b"abc"), ("d/" + "n" * 150, b"long name"), ("big", bytes(range(256)) * 5000)]:
                info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("link"); link.type = tarfile.SYMTYPE; link.linkname = "t" * 120; tar.addfile(link)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path, format, gzip ? "gz" : "plain"]
        try process.run()
        process.waitUntilExit()
        return path
    }

    func entries(_ path: String) throws -> [(String, Data, String)] {
        let reader = TarReader(stream: try ByteStream(path: path), archive: path)
        var result: [(String, Data, String)] = []
        while let entry = try reader.next() {
            result.append((entry.name, entry.kind == .regular ? try reader.readAll(limit: 1 << 24, entry: entry.name) : Data(), entry.linkName))
        }
        return result
    }

    @Test(arguments: [("PAX_FORMAT", false), ("GNU_FORMAT", false), ("PAX_FORMAT", true)])
    func readsLongNamesAndData(format: String, gzip: Bool) throws {
        let directory = try TemporaryDirectory()
        let read = try entries(makeTar(format: format, in: directory, gzip: gzip))
        #expect(read.map(\.0) == ["short", "d/" + String(repeating: "n", count: 150), "big", "link"])
        #expect(read[0].1 == Data("abc".utf8))
        #expect(read[1].1 == Data("long name".utf8))
        #expect(read[2].1 == Data((0..<5000 * 256).map { UInt8(truncatingIfNeeded: $0) }))
        #expect(read[3].2 == String(repeating: "t", count: 120))
    }

    @Test func refusesABadChecksumAndATruncatedArchive() throws {
        let directory = try TemporaryDirectory()
        let path = try makeTar(format: "PAX_FORMAT", in: directory)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = "\(directory.path)/cut.tar"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: OCILayoutError.invalidArchive(path: truncated, reason: "it is truncated")) { try entries(truncated) }
        data[10] ^= 0x01
        let corrupt = "\(directory.path)/corrupt.tar"
        try data.write(to: URL(fileURLWithPath: corrupt))
        #expect(throws: OCILayoutError.self) { try entries(corrupt) }
    }
}
