/// Response headers, looked up case-insensitively (HTTP/2 sends them lower-case anyway).
public struct HTTPHeaders: Sendable {
    private var fields: [(name: String, value: String)] = []

    public init() {}

    mutating func append(name: String, value: String) {
        fields.append((name.lowercased(), value))
    }

    /// The first value of header `name`.
    public subscript(name: String) -> String? {
        let key = name.lowercased()
        return fields.first { $0.name == key }?.value
    }

    /// Every value of header `name`, in order (e.g. several `WWW-Authenticate` challenges).
    public func values(_ name: String) -> [String] {
        let key = name.lowercased()
        return fields.filter { $0.name == key }.map(\.value)
    }
}
