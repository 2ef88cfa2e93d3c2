import Foundation

/// Size limits for the JSON documents mbctl reads from untrusted sources.
///
/// A registry or an archive could otherwise make us hold gigabytes in memory while parsing a
/// "manifest". Real manifests are a few KiB; real configs rarely exceed a few hundred.
public enum DocumentLimits {
    public static let manifest: Int64 = 4 << 20
    public static let config: Int64 = 8 << 20
}

extension JSONDecoder {
    /// Decodes `type` from `data`, naming `what` (a digest, URL or path) in the error.
    public static func decodeDocument<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as OCILayoutError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            throw OCILayoutError.invalidJSON(what: what, reason: context.debugDescription)
        } catch let DecodingError.keyNotFound(key, _) {
            throw OCILayoutError.invalidJSON(what: what, reason: "missing field \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw OCILayoutError.invalidJSON(what: what, reason: "wrong type at \"\(path)\"")
        } catch let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw OCILayoutError.invalidJSON(what: what, reason: "missing value at \"\(path)\"")
        } catch {
            throw OCILayoutError.invalidJSON(what: what, reason: "\(error)")
        }
    }
}
