#if canImport(Glibc)
import Glibc
#endif
import ConfinedFilesystem

/// Installs the Man8S busybox init into a machine's rootfs (docs/host-contract.md, section 6), through
/// ``RootFilesystem`` so that nothing the image's symlinks say can send a write to the host.
public struct InitSystem: Sendable {
    /// The host's static busybox.
    public var hostBusybox: String

    public init(hostBusybox: String) {
        self.hostBusybox = hostBusybox
    }

    /// Where the host's busybox goes when the image has a `/bin/busybox` of its own, which is
    /// the image's and is left alone.
    public static let alternateBusybox = "/sbin/man8s-busybox"

    /// Installs busybox, `/bin/sh` when the image has none, the init scripts and the udhcpc
    /// hook. Returns the busybox path inside the machine.
    @discardableResult
    public func install(into rootfs: RootFilesystem) throws -> String {
        let busybox = try rootfs.fileType(at: "/bin/busybox") == nil ? "/bin/busybox" : Self.alternateBusybox
        try rootfs.copyHostFile(hostBusybox, to: busybox, mode: 0o755)
        if try rootfs.fileType(at: "/bin/sh") == nil {
            try rootfs.makeSymlink("/bin/sh", to: busybox == "/bin/busybox" ? "busybox" : busybox)
        }
        for file in InitScripts.files(busybox: busybox) {
            try rootfs.writeFile(file.path, contents: Array(file.contents.utf8), mode: 0o755)
        }
        return busybox
    }

    /// nspawn mounts tmpfs over `/run` and `/tmp`: keeps the image's aside as
    /// `/run.man8sprotected` and `/tmp.man8sprotected`, for init to copy back at boot, and leaves
    /// empty directories in their place.
    public func protectRunAndTmp(in rootfs: RootFilesystem) throws {
        for (directory, mode) in [("/run", mode_t(0o755)), ("/tmp", mode_t(0o1777))] {
            try rootfs.rename(directory, to: directory + ".man8sprotected")
            try rootfs.makeDirectory(directory, mode: mode)
        }
    }
}
