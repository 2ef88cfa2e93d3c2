import Foundation
import Yams

/// YAML files from outside (registries.d, `oci sync`'s image lists) read as a node tree, never
/// through Yams' `Any` conversion, which traps on a key that is not a string and keeps the last of
/// two equal keys: every key must be a string, given once. Flow collections (`[`, `{`) nest at
/// most ``nestingLimit`` deep, far below what exhausts libyaml's stack.
public enum YAMLDocument {
    public static let nestingLimit = 64

    /// The root node of `data` (nil for an empty document); `fail` makes the error for a reason.
    public static func root(of data: Data, fail: (String) -> Error) throws -> Node? {
        guard let text = String(data: data, encoding: .utf8) else { throw fail("it is not UTF-8 text") }
        guard flowNesting(of: data) <= nestingLimit else { throw fail("it nests [ and { more than \(nestingLimit) deep") }
        do {
            return try Yams.compose(yaml: text)
        } catch {
            throw fail("it is not YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
    }

    /// The deepest nesting of `[` and `{` in `data`, counted everywhere (in strings too: an
    /// overestimate only refuses a strange file).
    public static func flowNesting(of data: Data) -> Int {
        var depth = 0, deepest = 0
        for byte in data {
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                depth += 1
                deepest = max(deepest, depth)
            } else if (byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}")) && depth > 0 {
                depth -= 1
            }
        }
        return deepest
    }

    public static func isNull(_ node: Node) -> Bool { node.scalar.flatMap(NSNull.construct(from:)) != nil }

    /// The 1-based line `node` starts on, for messages (0 when Yams does not say).
    public static func line(of node: Node) -> Int { node.mark?.line ?? 0 }

    /// The entries of the mapping `node`, in the file's order, each key a string given once (and,
    /// with `allowed`, one of those).
    public static func fields(of node: Node, at place: String, allowed: [String]?, fail: (String) -> Error) throws -> [(key: String, value: Node)] {
        guard let mapping = node.mapping else { throw fail("\(place) is not a mapping") }
        var fields: [(key: String, value: Node)] = [], seen = Set<String>()
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw fail("\(place) has a key that is not a string") }
            if let allowed, !allowed.contains(name) {
                throw fail("\(place) has an unknown key \"\(name)\" (known: \(allowed.joined(separator: ", ")))")
            }
            guard seen.insert(name).inserted else { throw fail("\(place) has the key \"\(name)\" twice") }
            fields.append((name, value))
        }
        return fields
    }
}
