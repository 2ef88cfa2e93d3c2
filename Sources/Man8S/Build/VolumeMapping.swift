import Foundation
import OCILayout

/// A volume of the image mapped to a directory of the host.
public struct VolumeMapping: Sendable, Equatable {
    /// The path inside the machine (a key of the image's `Volumes`, normalized).
    public var containerPath: VolumePath
    /// Where it goes: config, data or a custom host path (never skip).
    public var choice: VolumeChoice
    /// The directory on the host bound there.
    public var hostPath: String

    public init(containerPath: VolumePath, choice: VolumeChoice, hostPath: String) {
        self.containerPath = containerPath
        self.choice = choice
        self.hostPath = hostPath
    }
}
