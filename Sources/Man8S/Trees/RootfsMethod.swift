/// How a machine's rootfs is made.
public enum RootfsMethod: String, Sendable, Codable, CaseIterable {
    /// A writable btrfs snapshot of the image's tree: instant, and shares every extent.
    case snapshot
    /// A copy of the image's tree whose files share their data with it (FICLONE: xfs with
    /// reflink=1, btrfs).
    case reflink
    /// The image's layers applied anew for each machine (any file system).
    case unpack

    /// What the pull summary says.
    public var phrase: String {
        switch self {
        case .snapshot: return "as a btrfs snapshot of its image tree"
        case .reflink: return "as a reflink copy of its image tree"
        case .unpack: return "unpacked from its layers"
        }
    }
}
