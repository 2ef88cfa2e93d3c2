#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The platform an image runs on: operating system, CPU architecture and its variant.
public struct Platform: Codable, Hashable, Sendable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?
    public var osVersion: String?
    public var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case os, architecture, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// Reads `os/arch[/variant]`, as `--platform` takes it.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(os: parts[0].lowercased(), architecture: parts[1].lowercased(), variant: parts.count == 3 ? parts[2].lowercased() : nil)
    }

    /// `os/arch[/variant]`.
    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    /// The platform of the machine mbctl runs on, named as Go and the OCI specs name it.
    public static var host: Platform {
        var info = utsname()
        uname(&info)
        let machine = withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch machine {
        case "x86_64": return Platform(os: "linux", architecture: "amd64")
        case "aarch64", "arm64": return Platform(os: "linux", architecture: "arm64", variant: "v8")
        case "armv7l", "armv7": return Platform(os: "linux", architecture: "arm", variant: "v7")
        case "armv6l": return Platform(os: "linux", architecture: "arm", variant: "v6")
        case "i386", "i486", "i586", "i686": return Platform(os: "linux", architecture: "386")
        case "ppc64le": return Platform(os: "linux", architecture: "ppc64le")
        case "s390x": return Platform(os: "linux", architecture: "s390x")
        case "riscv64": return Platform(os: "linux", architecture: "riscv64")
        default: return Platform(os: "linux", architecture: machine)
        }
    }

    /// The variant with the defaults the OCI spec implies filled in: `arm64` means `v8`.
    var normalizedVariant: String? {
        if architecture == "arm64" { return variant ?? "v8" }
        return variant
    }

    /// Whether an image built for `candidate` runs where this platform is wanted.
    ///
    /// OS and architecture must be equal. When a variant is wanted it must be equal too (after
    /// normalization); when none is wanted, any variant of the architecture matches.
    public func matches(_ candidate: Platform) -> Bool {
        guard os == candidate.os, architecture == candidate.architecture else { return false }
        guard let wanted = normalizedVariant else { return true }
        return candidate.normalizedVariant == wanted
    }

    /// The manifest of `index` to run on this platform: the first exact match, else the first
    /// manifest that ``matches(_:)``. Entries without a platform are never chosen.
    public func select(from manifests: [Descriptor]) -> Descriptor? {
        let candidates = manifests.filter { $0.platform.map(matches) ?? false }
        return candidates.first { $0.platform?.normalizedVariant == normalizedVariant } ?? candidates.first
    }
}
