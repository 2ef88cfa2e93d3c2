import ArgumentParser
import Foundation
import ImageAccess
import Man8S
import RegistryClient
import TrustPolicy

struct OCICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oci",
        abstract: "Work with OCI images directly, without making a machine.",
        subcommands: [Copy.self, Sync.self, Download.self, Inspect.self]
    )

    static let sourceHelp = ArgumentHelp(
        "Where the image is: docker://REF (or a bare REF), oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF].", valueName: "src")
    static let cacheHelp = ArgumentHelp("The OCI image layout that caches images (default: the configuration file's, /var/tmp/man8s).", valueName: "dir")

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an image into an OCI image layout, an oci-archive or a registry.",
            discussion: """
                Copies one platform's image (manifest, config and layers, each verified against its \
                digest) from SRC to DEST, and tags it there. With --all, every platform of the \
                image's index is copied and the index kept byte for byte, so DEST holds the image \
                under the same digest as SRC (as skopeo copy --all). Blobs already in DEST are not \
                fetched again; an interrupted download resumes where it stopped.

                A docker:// destination is a push: the image is verified into the cache first, then \
                each blob the repository lacks (asked with HEAD) is uploaded, or mounted from the \
                source's repository when both are on one registry, and the manifests are put with \
                the source's own bytes, so the pushed digest is the source's. This is how a site \
                seeds its registry or mirror from an archive carried offline.

                A push takes the source's signatures of the pushed manifest along (sigstore \
                attachments, lookaside signatures; --remove-signatures drops them), and signs: \
                --sign-by-sigstore-private-key adds a cosign signature to the registry's \
                sha256-HEX.sig attachment (registries.d must set use-sigstore-attachments for the \
                destination), --sign-by a GPG simple signature to the file:// lookaside \
                registries.d names (lookaside-staging, else lookaside, else \
                /var/lib/containers/sigstore). When signatures cannot be stored, nothing is pushed. \
                An OCI layout or archive holds no signatures.

                Examples:
                  mbctl oci copy docker://busybox:latest oci:/srv/images/busybox:latest
                  mbctl oci copy 127.0.0.1:5000/app:1.0 oci:./app --platform linux/arm64
                  mbctl oci copy --all docker://busybox:latest oci-archive:/media/usb/busybox.tar
                  mbctl oci copy --all oci-archive:/media/usb/busybox.tar docker://registry.site:5000/library/busybox:latest
                  mbctl oci copy oci:./app:1.0 docker://registry.site:5000/app:1.0 \\
                      --sign-by-sigstore-private-key /etc/mbctl/cosign.key --sign-passphrase-file /etc/mbctl/cosign.pass
                """
        )

        @Argument(help: OCICommand.sourceHelp)
        var source: String

        @Argument(
            help: ArgumentHelp(
                "oci:DIR[:TAG] (an OCI image layout), oci-archive:FILE[:TAG] (TAG defaults to the source's) or docker://REF (a push).", valueName: "dest"))
        var destination: String

        @Flag(help: "Copy every platform of the image's index (and the index itself), not only --platform's.")
        var all = false

        @Option(
            help: ArgumentHelp(
                "Pushing, upload blobs larger than this many bytes in chunks of that size (default: each blob in one request).", valueName: "bytes"))
        var chunkSize: Int64?

        @Flag(help: "Pushing, leave the source's signatures behind.")
        var removeSignatures = false

        @Option(
            name: .customLong("sign-by-sigstore-private-key"),
            help: ArgumentHelp("Sign what is pushed with this cosign private key (cosign's encrypted key file).", valueName: "file"))
        var sigstorePrivateKey: String?

        @Option(help: ArgumentHelp("Sign what is pushed with this GPG secret key of $GNUPGHOME (else ~/.gnupg).", valueName: "fingerprint"))
        var signBy: String?

        @Option(
            help: ArgumentHelp(
                "The signing key's passphrase, the first line of this file (default: asked on the terminal for a cosign key, gpg's agent for a GPG key).",
                valueName: "file"))
        var signPassphraseFile: String?

        @Option(help: ArgumentHelp("The name signatures vouch for (default: DEST's).", valueName: "ref"))
        var signIdentity: String?

        @Option(help: OCICommand.cacheHelp)
        var cacheDir: String?

        @OptionGroup var host: HostOptions
        @OptionGroup var registry: RegistryOptions

        @Flag(name: .shortAndLong, help: "Print only errors and the final result.")
        var quiet = false

        func validate() throws {
            if let chunkSize, chunkSize < 1 << 10 { throw ValidationError("--chunk-size must be at least 1024 bytes") }
            if let signBy, signBy.isEmpty || signBy.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw ValidationError("--sign-by takes a GPG key's fingerprint, ID or user ID")
            }
            if sigstorePrivateKey == nil, signBy == nil, signPassphraseFile != nil || signIdentity != nil {
                throw ValidationError("--sign-passphrase-file and --sign-identity go with --sign-by-sigstore-private-key or --sign-by")
            }
        }

        /// How to sign, as the options say (nil: not at all). A cosign key is opened here, so a
        /// wrong passphrase stops the copy before anything is fetched.
        func signing() async throws -> ImageSigning? {
            guard sigstorePrivateKey != nil || signBy != nil else { return nil }
            let passphrase = try signPassphraseFile.map(ImageSigning.passphrase(fromFile:))
            var signing = ImageSigning(creator: "mbctl \(MbctlVersion.current)")
            if let signIdentity {
                signing.identity = PolicySubject.docker(try ImageReference(parsing: signIdentity)).identity
            }
            if let sigstorePrivateKey {
                guard let passphrase = try passphrase ?? PassphrasePrompt.ask("Passphrase for \(sigstorePrivateKey): ") else {
                    throw ValidationError("--sign-by-sigstore-private-key needs --sign-passphrase-file when there is no terminal to ask on")
                }
                signing.sigstoreKey = try await SigstorePrivateKey.load(path: sigstorePrivateKey, passphrase: passphrase)
            }
            if let signBy { signing.gpgKey = ImageSigning.GPGKey(identity: signBy, passphrase: passphrase) }
            return signing
        }

        func run() async throws {
            let source = try ImageLocation(parsing: source)
            let destination = try ImageLocation(parsing: destination)
            // A bare name as the destination would be a push to Docker Hub: say docker:// to mean it.
            if case .registry = destination, !self.destination.hasPrefix("docker://") {
                throw ValidationError("DEST \(self.destination) is not oci:DIR, oci-archive:FILE or docker://REF; a push is written docker://REF")
            }
            let configuration = try host.configuration()
            var access = try registry.imageAccess(cache: cacheDir ?? host.layout(from: configuration).cache, file: configuration, root: host.root)
            access.uploadChunkSize = chunkSize
            let images = access
            let signatures = CopySignatures(removeExisting: removeSignatures, signing: try await signing())
            let reporter = TransferReporter(quiet: quiet)
            let started = Date()
            let result = try await Interruption.cancellable {
                try await images.copy(from: source, to: destination, allPlatforms: all, signatures: signatures, progress: reporter.handle)
            }
            reporter.finish()
            let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
            let platforms = all ? "\(result.manifestCount) manifests, " : ""
            var blobs = ""
            if let pushed = result.pushed {
                blobs =
                    "; blobs: \(pushed.uploaded) uploaded (\(TransferReporter.bytes(pushed.bytesUploaded))), \(pushed.mounted) mounted, \(pushed.alreadyThere) already there"
            }
            if result.signaturesCopied + result.signaturesMade > 0 {
                blobs += "; signatures: \(result.signaturesCopied) copied, \(result.signaturesMade) made"
            }
            say("copied \(source) to \(result.destination) (\(result.root.digest), \(platforms)\(result.layerCount) layers\(blobs)) in \(seconds)s")
        }
    }

    struct Download: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unpack an image's root filesystem into a directory.",
            discussion: """
                Fetches the image (registry images and archives through the cache, oci: layouts in \
                place), then \
                applies its layers in order, whiteouts included, verifying every layer against its \
                digest and the config's diff_ids. PATH must not exist or be empty; the rootfs is \
                built beside it and renamed into place only when complete, so a failure leaves nothing.

                Examples:
                  mbctl oci download docker://busybox:latest /srv/rootfs/busybox
                  mbctl oci download oci:/srv/images/app:1.0 ./app-rootfs
                """
        )

        @Argument(help: OCICommand.sourceHelp)
        var source: String

        @Argument(help: ArgumentHelp("The directory to create the root filesystem in.", valueName: "path"))
        var path: String

        @Option(help: OCICommand.cacheHelp)
        var cacheDir: String?

        @OptionGroup var host: HostOptions

        @Option(help: ArgumentHelp("Threads creating files beside the one reading each layer (default: by core count).", visibility: .hidden))
        var unpackWorkers: Int?

        @OptionGroup var registry: RegistryOptions

        @Flag(name: .shortAndLong, help: "Print only errors and the final result.")
        var quiet = false

        func run() async throws {
            let source = try ImageLocation(parsing: source)
            let configuration = try host.configuration()
            var images = try registry.imageAccess(cache: cacheDir ?? host.layout(from: configuration).cache, file: configuration, root: host.root)
            if let unpackWorkers { images.unpackWorkers = max(0, min(unpackWorkers, 16)) }
            let reporter = TransferReporter(quiet: quiet)
            let started = Date()
            let path = self.path, access = images
            let result = try await Interruption.cancellable {
                try await access.download(from: source, to: path, progress: reporter.handle) { index, count, applied in
                    reporter.layerApplied(index: index, count: count, entries: applied.entries)
                }
            }
            reporter.finish()
            let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
            let stats = result.statistics
            var summary =
                "unpacked \(source) (\(result.image.manifestDescriptor.digest)) into \(path): \(stats.entries) entries, \(TransferReporter.bytes(stats.bytes)) in \(seconds)s"
            if stats.ownershipSkipped + stats.devicesSkipped + stats.xattrsSkipped > 0 {
                summary += "; rootless: \(stats.ownershipSkipped) owners not set, \(stats.devicesSkipped) devices and \(stats.xattrsSkipped) xattrs skipped"
            }
            say(summary)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what an image is, without unpacking it.",
            discussion: """
                Prints the image's digest (of the manifest chosen for --platform), when it was built, \
                its platform, labels, environment, entrypoint and command, working directory, volumes \
                and layers, as skopeo inspect does. --raw prints the manifest (or index) byte for \
                byte; --config the config blob; --json everything as JSON. No layer is fetched.

                Examples:
                  mbctl oci inspect docker://busybox:latest
                  mbctl oci inspect --config --raw oci:/srv/images/app:1.0
                """
        )

        @Argument(help: OCICommand.sourceHelp)
        var source: String

        @Flag(help: "Print the config blob instead of the summary.")
        var config = false

        @Flag(help: "Print the document byte for byte (the manifest or index; with --config, the config).")
        var raw = false

        @Flag(help: "Print JSON.")
        var json = false

        @Option(help: OCICommand.cacheHelp)
        var cacheDir: String?

        @Option(help: ArgumentHelp("Put every host path (the cache, the configuration file) under this directory.", valueName: "dir"))
        var root: String?

        // --config is the config blob here, as in skopeo inspect.
        @Option(
            name: .customLong("config-file"),
            help: ArgumentHelp("mbctl's configuration file (default /etc/mbctl/config.toml, if it exists).", valueName: "file"))
        var configFile: String?

        @OptionGroup var registry: RegistryOptions

        func run() async throws {
            let location = try ImageLocation(parsing: source)
            let host = HostSettings(root: root, config: configFile)
            let configuration = try host.configuration()
            let images = try registry.imageAccess(cache: cacheDir ?? host.layout(from: configuration).cache, file: configuration, root: host.root)
            let inspection = try await Interruption.cancellable { try await images.inspect(location) }
            if raw || config {
                let bytes = config ? inspection.rawConfig : inspection.rawManifest
                if raw {
                    FileHandle.standardOutput.write(bytes)
                } else {
                    let object = try JSONSerialization.jsonObject(with: bytes)
                    let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                    print(String(decoding: pretty, as: UTF8.self))
                }
                return
            }
            if json {
                try printJSON(inspection)
                return
            }
            say("Name:         \(inspection.name)")
            say("Digest:       \(inspection.digest)")
            say("Created:      \(inspection.created ?? "-")")
            say("Platform:     \([inspection.os, inspection.architecture, inspection.variant].compactMap { $0 }.joined(separator: "/"))")
            say("Entrypoint:   \(inspection.entrypoint.isEmpty ? "-" : inspection.entrypoint.joined(separator: " "))")
            say("Cmd:          \(inspection.cmd.isEmpty ? "-" : inspection.cmd.joined(separator: " "))")
            say("WorkingDir:   \(inspection.workingDir ?? "-")")
            for variable in inspection.env { say("Env:          \(variable)") }
            for volume in inspection.volumes { say("Volume:       \(volume)") }
            for (key, value) in inspection.labels.sorted(by: { $0.key < $1.key }) { say("Label:        \(key)=\(value)") }
            for layer in inspection.layers { say("Layer:        \(layer.digest) \(TransferReporter.bytes(layer.size)) \(layer.mediaType)") }
        }
    }
}
