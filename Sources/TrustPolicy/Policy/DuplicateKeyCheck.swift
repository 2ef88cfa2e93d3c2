import Foundation

/// Finds a key given twice in one object of a JSON document, which containers/image refuses in a
/// policy file and `JSONSerialization` silently resolves (one of the two wins): a policy whose
/// second `"default"` or `"keyPath"` quietly replaced the first is not what its author reviewed.
///
/// Runs only on text `JSONSerialization` has accepted: it walks the bytes keeping, for each
/// object open, the keys seen so far; a string followed by `:` is a key, compared after its
/// escapes are decoded (by `JSONSerialization` again), so `"a"` and `"\u0061"` are one key.
enum DuplicateKeyCheck {
    /// The first key that appears twice in one object, or nil.
    static func firstDuplicate(in data: Data) -> String? {
        let bytes = [UInt8](data)
        var objects: [Set<String>] = []
        var index = 0
        func skipWhitespace(_ position: Int) -> Int {
            var position = position
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
            return position
        }
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"):
                objects.append([])
                index += 1
            case UInt8(ascii: "}"):
                _ = objects.popLast()
                index += 1
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
                let end = min(index, bytes.count)
                let next = skipWhitespace(index)
                guard next < bytes.count, bytes[next] == UInt8(ascii: ":"), !objects.isEmpty else { continue }
                guard let key = try? JSONSerialization.jsonObject(with: Data(bytes[start..<end]), options: .fragmentsAllowed) as? String else { continue }
                if !objects[objects.count - 1].insert(key).inserted { return key }
            default:
                index += 1
            }
        }
        return nil
    }
}
