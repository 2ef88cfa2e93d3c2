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

    /// Adds `size` to ``bytes``, stopping at `Int64.max`: sizes are the layer's own claims (a
    /// sparse file may claim 2^62 bytes), never a reason to trap.
    mutating func count(bytes size: Int64) {
        let (sum, overflow) = bytes.addingReportingOverflow(size)
        bytes = overflow ? .max : sum
    }

    public static func += (lhs: inout UnpackStatistics, rhs: UnpackStatistics) {
        lhs.entries += rhs.entries
        lhs.regularFiles += rhs.regularFiles
        lhs.directories += rhs.directories
        lhs.symlinks += rhs.symlinks
        lhs.hardlinks += rhs.hardlinks
        lhs.devices += rhs.devices
        lhs.whiteouts += rhs.whiteouts
        lhs.count(bytes: rhs.bytes)
        lhs.ownershipSkipped += rhs.ownershipSkipped
        lhs.devicesSkipped += rhs.devicesSkipped
        lhs.xattrsSkipped += rhs.xattrsSkipped
    }
}
