import Foundation
import OCILayout

/// Everything a machine's `NAME.nspawn` and `man8env.env` are written from.
public struct MachineDefinition: Sendable {
    public var name: MachineName
    public var template = "network_isolated"
    public var address: YggdrasilAddress
    /// The image as the user named it (`MAN8S_OCI_IMAGE_URL`).
    public var image: String
    /// The digest of the manifest the machine was made from (`MAN8S_OCI_IMAGE_DIGEST`).
    public var imageDigest: String?
    public var createdAt: Date
    public var runtime: ImageConfiguration.RuntimeSettings
    public var volumes: [VolumeMapping]
    public var layout: HostLayout

    public init(
        name: MachineName, address: YggdrasilAddress, image: String, createdAt: Date,
        runtime: ImageConfiguration.RuntimeSettings, volumes: [VolumeMapping], layout: HostLayout
    ) {
        self.name = name
        self.address = address
        self.image = image
        self.createdAt = createdAt
        self.runtime = runtime
        self.volumes = volumes
        self.layout = layout
    }

    /// Image environment variables that go to the nspawn file rather than `man8env.env`, in the
    /// order they are written.
    static let nspawnEnvironmentKeys = ["PATH", "TERM", "HOME", "LANG"]

    /// The image's `Env` entries mbctl passes on, as (key, value) split at the first `=`.
    var imageEnvironment: [(key: String, value: String)] { Self.screen(runtime.env ?? []).kept }

    /// The image's `Env` entries mbctl does not pass on, each with why.
    public var droppedEnvironment: [String] { Self.screen(runtime.env ?? []).dropped }

    /// The `MAN8S_` keys of `man8env.env` are mbctl's: the machine's init and `machines list`
    /// read its name, address and image from them, so an image must not set them. Neither may it
    /// pass a key the init cannot export.
    static let reservedPrefix = "MAN8S_"

    static func screen(_ entries: [String]) -> (kept: [(key: String, value: String)], dropped: [String]) {
        var kept: [(key: String, value: String)] = [], dropped: [String] = []
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else {
                dropped.append("the image's Env entry \"\(entry)\" has no '=' and is left out")
                continue
            }
            let key = String(entry[..<equals]), value = String(entry[entry.index(after: equals)...])
            if key.hasPrefix(reservedPrefix) {
                dropped.append("the image sets \(key), which is mbctl's to set; left out")
            } else if !isVariableName(key) {
                dropped.append("the image's Env key \"\(key)\" is not a variable name the machine's init can export; left out")
            } else {
                kept.append((key, value))
            }
        }
        return (kept, dropped)
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`, what the init's loader accepts.
    static func isVariableName(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first.isASCII, first == "_" || first.properties.isAlphabetic else { return false }
        return key.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    /// Entrypoint followed by Cmd: what the machine's init runs.
    func applicationArguments() throws -> [String] {
        let arguments = (runtime.entrypoint ?? []) + (runtime.cmd ?? [])
        guard !arguments.isEmpty else {
            throw Man8SError.invalidImage(reason: "\(image) has neither Entrypoint nor Cmd, so there is nothing for the machine to run")
        }
        return arguments
    }
}
