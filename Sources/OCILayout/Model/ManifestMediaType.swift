import Foundation

extension MediaType {
    /// The media type of a manifest document: its own `mediaType` field when present, else the
    /// type its transport declared (a `Content-Type`), else its shape (`manifests` or `config`).
    ///
    /// Docker schema 1 and anything that is not an index or image manifest is refused, naming `image`.
    public static func ofManifest(_ data: Data, declared: String?, image: String) throws -> String {
        /// Any JSON value: only whether a field is there counts here; the document itself is
        /// decoded, and its errors reported, once its type is known.
        struct Present: Decodable {
            init(from decoder: Decoder) throws {}
        }
        struct Probe: Decodable {
            var schemaVersion: Int?
            var mediaType: String?
            var manifests: Present?
            var config: Present?
        }
        let probe: Probe
        do {
            probe = try JSONDecoder().decode(Probe.self, from: data)
        } catch {
            throw OCILayoutError.invalidJSON(what: "the manifest of \(image)", reason: "not a JSON manifest")
        }
        let known = indexTypes.union(manifestTypes)
        let declared = declared?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
        if probe.schemaVersion == 1 || schema1Types.contains(probe.mediaType ?? declared ?? "") {
            throw OCILayoutError.schema1Manifest(image: image)
        }
        let mediaType =
            probe.mediaType
            ?? declared.flatMap { known.contains($0) ? $0 : nil }
            ?? (probe.manifests != nil ? ociIndex : (probe.config != nil ? ociManifest : declared ?? "none"))
        guard known.contains(mediaType) else {
            throw OCILayoutError.unsupportedManifest(image: image, mediaType: mediaType)
        }
        return mediaType
    }
}
