import Foundation
import ImageAccess
import OCILayout
import Testing
import TestSupport
@testable import Man8S

/// The machine build that pull and upgrade share, driven from an image layout made in the test:
/// what a pull makes, what an upgrade makes of a changed image, and that a build that fails
/// leaves nothing behind. No registry, no network, no external tool.
@Suite(.timeLimit(.minutes(1))) struct MachineBuildTests {
    let root = NSTemporaryDirectory() + "mbctl-build-\(UUID().uuidString)"
    var layout: HostLayout { HostLayout().rooted(at: root) }
    let prefix: IPv6Prefix
    let name: MachineName

    init() throws {
        prefix = try IPv6Prefix(parsing: "300:2e98:a4b0:1789::/64")
        name = try MachineName("web")
    }

    /// Tags `tag` in the layout `images/` as an image of one layer holding `entries`, with
    /// `volumes` declared; returns its location and manifest digest.
    func image(_ tag: String, _ entries: [UstarArchive.Entry], volumes: [String] = []) throws -> (ImageLocation, Digest) {
        let path = "\(root)/images"
        let layout = try ImageLayout.openOrCreate(at: path)
        let layer = UstarArchive(entries).data
        let layerDescriptor = Descriptor(mediaType: MediaType.ociLayer, digest: .sha256(of: layer), size: Int64(layer.count))
        try layout.store.write(layer, as: layerDescriptor)
        let volumeText = volumes.map { "\"\($0)\":{}" }.joined(separator: ",")
        let config = Data(
            """
            {"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/app"],"Volumes":{\(volumeText)}},\
            "rootfs":{"type":"layers","diff_ids":["\(layerDescriptor.digest)"]}}
            """.utf8)
        let configDescriptor = Descriptor(mediaType: MediaType.ociConfig, digest: .sha256(of: config), size: Int64(config.count))
        try layout.store.write(config, as: configDescriptor)
        let manifest = try JSONEncoder().encode(ImageManifest(config: configDescriptor, layers: [layerDescriptor]))
        let manifestDescriptor = Descriptor(mediaType: MediaType.ociManifest, digest: .sha256(of: manifest), size: Int64(manifest.count))
        try layout.store.write(manifest, as: manifestDescriptor)
        try layout.setTag(tag, to: manifestDescriptor)
        return (try ImageLocation(parsing: "oci:\(path):\(tag)"), manifestDescriptor.digest)
    }

    var build: MachineBuild {
        var build = MachineBuild(layout: layout, images: ImageAccess(platform: Platform(os: "linux", architecture: "amd64"), cacheDirectory: layout.cache))
        build.rootfsMethod = .unpack
        return build
    }

    static let app: [UstarArchive.Entry] = [.directory("bin"), .file("bin/app", contents: "#!/bin/sh\n", mode: 0o755), .directory("srv")]

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func aPullMakesTheRootfsTheFilesAndTheRecordOfOneImage() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (location, digest) = try image("1", Self.app + [.directory("srv/data"), .file("srv/data/seed", contents: "seed\n")], volumes: ["/srv/data"])
        let outcome = try await MachinePull(build: build).pull(location, as: "oci:images:1", name: name, prefix: prefix, volumes: ["/srv/data": .data])
        #expect(outcome.imageDigest == digest && outcome.method == .unpack)
        #expect(
            exists("\(layout.rootfs(of: name))/bin/app") && exists("\(layout.rootfs(of: name))/sbin/busybox-init.sh")
                && exists("\(layout.rootfs(of: name))/bin/busybox"))
        #expect(exists(layout.nspawnFile(of: name)) && exists(layout.environmentFile(of: name)))
        #expect(try String(contentsOfFile: "\(layout.dataDirectory(of: name))/srv/data/seed", encoding: .utf8) == "seed\n")
        let directories = try #require(try MachineDirectories.openExisting(layout))
        let record = try #require(try directories.record(of: name))
        #expect(record.digest == digest.description && record.number == 1 && record.address == outcome.address.description)
    }

    @Test func anUpgradeBuildsTheNextGenerationSeedingOnlyNewVolumes() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (first, _) = try image("1", Self.app + [.directory("srv/data"), .file("srv/data/seed", contents: "one\n")], volumes: ["/srv/data"])
        _ = try await MachinePull(build: build).pull(first, as: "oci:images:1", name: name, prefix: prefix, volumes: ["/srv/data": .data])
        try "mine\n".write(toFile: "\(layout.dataDirectory(of: name))/srv/data/seed", atomically: false, encoding: .utf8)
        let (second, digest) = try image(
            "2",
            Self.app + [.directory("srv/data"), .file("srv/data/seed", contents: "two\n"), .directory("srv/logs"), .file("srv/logs/first", contents: "x\n")],
            volumes: ["/srv/data", "/srv/logs"])
        let outcome = try await MachineUpgrade(build: build).upgrade(name, from: second.description, volumes: ["/srv/logs": .data])
        guard case .upgraded(let upgraded) = outcome else { Issue.record("not upgraded: \(outcome)"); return }
        #expect(upgraded.to == digest && upgraded.generation == 2 && upgraded.newVolumes.map(\.containerPath.description) == ["/srv/logs"])
        #expect(try String(contentsOfFile: "\(layout.dataDirectory(of: name))/srv/data/seed", encoding: .utf8) == "mine\n", "a kept volume is the user's")
        #expect(exists("\(layout.dataDirectory(of: name))/srv/logs/first"), "a new volume is seeded")
    }

    /// The image says /srv/data is a volume but holds a file there: the build fails after the
    /// rootfs, the configuration and data directories were made, and all of it goes.
    @Test func aBuildThatFailsLeavesNothingBehind() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (location, _) = try image("1", Self.app + [.file("srv/data", contents: "not a directory\n")], volumes: ["/srv/data"])
        await #expect {
            try await MachinePull(build: build).pull(location, as: "oci:images:1", name: name, prefix: prefix, volumes: ["/srv/data": .data])
        } throws: { error in
            "\(error)".contains("/srv/data") && "\(error)".contains("not a directory")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: layout.machines).filter {
            !$0.hasPrefix(".locks") && $0 != ".generations" && $0 != ".trees"
        }
        #expect(left.isEmpty, "\(left)")
        #expect(!exists(layout.configDirectory(of: name)) && !exists(layout.dataDirectory(of: name)))
        #expect(!exists(layout.nspawnFile(of: name)) && !exists(layout.systemdLink(of: name)))
        #expect(!exists("\(layout.machines)/.generations/web"))
    }
}
