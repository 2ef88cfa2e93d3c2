import Foundation

/// One entry of a tar archive, as read from its (ustar, PAX or GNU) headers.
struct TarEntry {
    enum Kind {
        case regular, directory, symlink, hardlink, other
    }

    var name: String
    var kind: Kind
    var size: Int64
    var linkName: String
}

/// Reads a tar stream entry by entry without seeking, so the same code reads `.tar` and
/// `.tar.gz` archives. Headers are checked (checksum, octal fields) and a stream that ends
/// before its entries do is an error, not a short read.
final class TarReader {
    private let stream: ByteStream
    private let archive: String
    private var remaining: Int64 = 0
    private var padding: Int64 = 0
    private let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)

    init(stream: ByteStream, archive: String) {
        self.stream = stream
        self.archive = archive
    }

    deinit { block.deallocate() }

    /// The next entry, or nil at the end of the archive.
    func next() throws -> TarEntry? {
        try skip(remaining + padding)
        remaining = 0
        padding = 0
        var longName: String?
        var longLink: String?
        var pax: [String: String] = [:]
        while true {
            guard try readBlock() else { return nil }
            if block.allSatisfy({ $0 == 0 }) { return nil }
            try verifyChecksum()
            let type = block[156]
            let size = try number(at: 124, length: 12)
            guard size >= 0 else { throw invalid("negative size") }
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= 1 << 20 else { throw invalid("an extended header of \(size) bytes") }
                let data = try readData(size)
                if type == UInt8(ascii: "x") {
                    pax.merge(Self.parsePAX(data)) { $1 }
                } else if type == UInt8(ascii: "L") {
                    longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                } else {
                    longLink = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                }
                continue
            case UInt8(ascii: "g"):
                _ = try readData(min(size, 1 << 20))
                continue
            default:
                break
            }
            var name = field(0, 100)
            let prefix = field(345, 155)
            if !prefix.isEmpty && block[257..<262].elementsEqual("ustar".utf8) { name = prefix + "/" + name }
            name = pax["path"] ?? longName ?? name
            let link = pax["linkpath"] ?? longLink ?? field(157, 100)
            let entrySize = pax["size"].flatMap { Int64($0) } ?? size
            let kind: TarEntry.Kind
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .regular
            case UInt8(ascii: "5"): kind = .directory
            case UInt8(ascii: "2"): kind = .symlink
            case UInt8(ascii: "1"): kind = .hardlink
            default: kind = .other
            }
            remaining = kind == .regular || kind == .other ? entrySize : 0
            padding = (512 - remaining % 512) % 512
            if kind != .regular && kind != .other && entrySize > 0 {
                // A link or directory with data: skip it too.
                remaining = entrySize
                padding = (512 - entrySize % 512) % 512
            }
            return TarEntry(name: name, kind: kind, size: kind == .regular ? entrySize : 0, linkName: link)
        }
    }

    /// Reads the current entry's data, up to the buffer's size; 0 at its end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard remaining > 0, let base = buffer.baseAddress else { return 0 }
        let wanted = Int(min(Int64(buffer.count), remaining))
        var filled = 0
        while filled < wanted {
            let got = try stream.read(into: UnsafeMutableRawBufferPointer(start: base + filled, count: wanted - filled))
            guard got > 0 else { throw truncated() }
            filled += got
        }
        remaining -= Int64(filled)
        return filled
    }

    /// The whole current entry, refusing more than `limit` bytes.
    func readAll(limit: Int64, entry: String) throws -> Data {
        guard remaining <= limit else {
            throw OCILayoutError.invalidArchiveEntry(path: archive, entry: entry, reason: "\(remaining) bytes, more than the limit of \(limit)")
        }
        return try readData(remaining, consume: true)
    }

    private func readData(_ size: Int64, consume: Bool = false) throws -> Data {
        var data = Data(count: Int(size))
        try data.withUnsafeMutableBytes { buffer in
            var filled = 0
            while filled < buffer.count {
                guard let base = buffer.baseAddress else { break }
                let got = try stream.read(into: UnsafeMutableRawBufferPointer(start: base + filled, count: buffer.count - filled))
                guard got > 0 else { throw truncated() }
                filled += got
            }
        }
        if consume { remaining = 0 } else { try skip((512 - size % 512) % 512) }
        return data
    }

    private func skip(_ count: Int64) throws {
        var left = count
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { scratch.deallocate() }
        while left > 0 {
            let got = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(min(Int64(scratch.count), left))]))
            guard got > 0 else { throw truncated() }
            left -= Int64(got)
        }
    }

    /// Reads one header block; false at a clean end of the stream.
    private func readBlock() throws -> Bool {
        var filled = 0
        while filled < 512 {
            guard let base = block.baseAddress else { return false }
            let got = try stream.read(into: UnsafeMutableRawBufferPointer(start: base + filled, count: 512 - filled))
            if got == 0 {
                if filled == 0 { return false }
                throw truncated()
            }
            filled += got
        }
        return true
    }

    private func verifyChecksum() throws {
        let stored = try number(at: 148, length: 8)
        var sum: Int64 = 0
        for (index, byte) in block.enumerated() {
            sum += (148..<156).contains(index) ? 32 : Int64(byte)
        }
        guard sum == stored else { throw invalid("a header with a wrong checksum (corrupt or not a tar)") }
    }

    private func field(_ offset: Int, _ length: Int) -> String {
        String(decoding: block[offset..<offset + length].prefix { $0 != 0 }, as: UTF8.self)
    }

    /// An octal field, or GNU's base-256 for large values.
    private func number(at offset: Int, length: Int) throws -> Int64 {
        if block[offset] & 0x80 != 0 {
            var value: Int64 = 0
            for byte in block[(offset + 1)..<(offset + length)] {
                guard value < Int64.max >> 8 else { throw invalid("a number too large") }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        let text = field(offset, length).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        if text.isEmpty { return 0 }
        guard let value = Int64(text, radix: 8) else { throw invalid("a header field that is not a number") }
        return value
    }

    static func parsePAX(_ data: Data) -> [String: String] {
        var result: [String: String] = [:]
        var rest = data[...]
        while let space = rest.firstIndex(of: 0x20), let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)),
              length > 0, rest.count >= length {
            let record = rest[rest.index(after: space)..<(rest.startIndex + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                result[String(decoding: record[..<equals], as: UTF8.self)] = String(decoding: record[record.index(after: equals)...], as: UTF8.self)
            }
            rest = rest[(rest.startIndex + length)...]
        }
        return result
    }

    private func truncated() -> OCILayoutError { .invalidArchive(path: archive, reason: "it is truncated") }
    private func invalid(_ what: String) -> OCILayoutError { .invalidArchive(path: archive, reason: "it has \(what)") }
}
