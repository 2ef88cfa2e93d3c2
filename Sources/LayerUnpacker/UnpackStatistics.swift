/// What applying layers did, for the summary the CLI prints.
public struct UnpackStatistics: Sendable, Equatable {
    public var entries = 0
    public var regularFiles = 0
    public var directories = 0
    public var symlinks = 0
    public var hardlinks = 0
    public var devices = 0
    public var whiteouts = 0
    public var bytes: Int64 = 0
    /// Rootless: entries whose owner could not be set.
    public var ownershipSkipped = 0
    /// Rootless: device nodes that could not be made.
    public var devicesSkipped = 0
    /// Rootless: extended attributes (`security.*`, `trusted.*`) that could not be set.
    public var xattrsSkipped = 0

    public init() {}

    public static func += (lhs: inout UnpackStatistics, rhs: UnpackStatistics) {
        lhs.entries += rhs.entries
        lhs.regularFiles += rhs.regularFiles
        lhs.directories += rhs.directories
        lhs.symlinks += rhs.symlinks
        lhs.hardlinks += rhs.hardlinks
        lhs.devices += rhs.devices
        lhs.whiteouts += rhs.whiteouts
        lhs.bytes += rhs.bytes
        lhs.ownershipSkipped += rhs.ownershipSkipped
        lhs.devicesSkipped += rhs.devicesSkipped
        lhs.xattrsSkipped += rhs.xattrsSkipped
    }
}
