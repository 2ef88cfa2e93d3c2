import Foundation

/// A JSON object of a policy file read as containers/image reads one ("paranoid"): a key it does
/// not know is an error, never ignored, so that a misspelt requirement never weakens a policy.
struct StrictJSONObject {
    let fields: [String: Any]
    /// Where the object is, for messages: `transports.docker["example.com"][0]`.
    let place: String
    let source: String

    init(_ value: Any?, at place: String, source: String, allowed: Set<String>) throws {
        guard let fields = value as? [String: Any] else { throw TrustPolicyError.invalidPolicy(source: source, reason: "\(place) is not a JSON object") }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw TrustPolicyError.invalidPolicy(source: source, reason: "\(place) has an unknown field \"\(unknown)\"")
        }
        self.fields = fields
        self.place = place
        self.source = source
    }

    func fail(_ reason: String) -> TrustPolicyError { .invalidPolicy(source: source, reason: "\(place): \(reason)") }

    func has(_ key: String) -> Bool { fields[key] != nil }

    func string(_ key: String) throws -> String? {
        guard let value = fields[key] else { return nil }
        guard let text = value as? String, !text.isEmpty else { throw fail("\"\(key)\" must be a non-empty string") }
        return text
    }

    func requiredString(_ key: String) throws -> String {
        guard let text = try string(key) else { throw fail("\"\(key)\" is missing") }
        return text
    }

    func strings(_ key: String) throws -> [String]? {
        guard let value = fields[key] else { return nil }
        guard let list = value as? [String], !list.isEmpty, list.allSatisfy({ !$0.isEmpty }) else {
            throw fail("\"\(key)\" must be a non-empty list of non-empty strings")
        }
        return list
    }

    /// Base64 data, as Go writes `[]byte` in JSON.
    func data(_ text: String, _ key: String) throws -> Data {
        guard let data = Data(base64Encoded: text), !data.isEmpty else { throw fail("\"\(key)\" is not base64 data") }
        return data
    }

    /// The key source of the `path`, `paths`, `data` and `datas` fields that are given (at most
    /// one may be); nil when none is.
    func keySource(path: String, paths: String? = nil, data dataKey: String, datas: String? = nil) throws -> KeySource? {
        let given = [path, paths, dataKey, datas].compactMap { $0 }.filter { has($0) }
        guard given.count <= 1 else { throw fail("only one of \(given.map { "\"\($0)\"" }.joined(separator: ", ")) may be given") }
        if let single = try string(path) { return .paths([single]) }
        if let paths, let list = try strings(paths) { return .paths(list) }
        if let text = try string(dataKey) { return .data([try data(text, dataKey)]) }
        if let datas, let list = try strings(datas) { return .data(try list.map { try data($0, datas) }) }
        return nil
    }

    /// As ``keySource(path:paths:data:datas:)``, where one of them must be given.
    func requiredKeySource(path: String, paths: String? = nil, data dataKey: String, datas: String? = nil) throws -> KeySource {
        guard let source = try keySource(path: path, paths: paths, data: dataKey, datas: datas) else {
            throw fail("one of \([path, paths, dataKey, datas].compactMap { $0 }.map { "\"\($0)\"" }.joined(separator: ", ")) is required")
        }
        return source
    }
}
