import Foundation
import OCILayout

/// A volume of the image mapped to a directory of the host.
public struct VolumeMapping: Sendable, Equatable {
    /// The path inside the machine (a key of the image's `Volumes`).
    public var containerPath: String
    /// The directory on the host bound there.
    public var hostPath: String

    public init(containerPath: String, hostPath: String) {
        self.containerPath = containerPath
        self.hostPath = hostPath
    }
}

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

    /// The image's `Env` as (key, value), split at the first `=`.
    var imageEnvironment: [(key: String, value: String)] {
        (runtime.env ?? []).compactMap { entry in
            guard let equals = entry.firstIndex(of: "=") else { return nil }
            return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
        }
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
