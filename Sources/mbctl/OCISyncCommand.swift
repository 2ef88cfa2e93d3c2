import ArgumentParser
import Foundation
import ImageAccess
import ImageSync
import Man8S

extension OCICommand {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy every image a list, a repository or a layout names into a registry (as skopeo sync).",
            discussion: """
                --src yaml FILE: skopeo sync's YAML list (per registry: images with their tags, or \
                [] for every tag; images-by-tag-regex; images-by-semver; credentials, tls-verify \
                and cert-dir for that registry). --src docker REPOSITORY: every tag of a \
                repository (registry.example.com/team/app), or one image (…/app:1.0). --src oci \
                DIR: every tag of an OCI image layout.

                DEST is registry/prefix (--dest docker) or a directory (--dest oci). An image goes \
                to DEST/NAME:TAG, NAME the last part of its repository, or, with --scoped, its \
                whole name with its registry (DEST/registry.example.com/team/app:TAG). A tag already \
                at the same digest in DEST is skipped after one manifest request, nothing \
                uploaded; every other image is copied as oci copy does (blobs verified, the \
                source's signatures taken along under the signature policy). Without --all, each \
                image's platform is --platform's, as a pull takes it.

                The first failure ends the run, unless --keep-going (then every image is tried, \
                and the exit status is 1 when one failed). A summary of copied, skipped and failed \
                images ends the output.

                Examples:
                  mbctl oci sync --src yaml /etc/mbctl/mirror.yaml registry.site:5000/mirror
                  mbctl oci sync --src docker --scoped docker.io/library/busybox registry.site:5000/mirror
                  mbctl oci sync --src oci --dest oci /media/usb/images /srv/images
                """
        )

        @Option(help: ArgumentHelp("What SOURCE is: yaml (a list), docker (a repository or an image), oci (an image layout).", valueName: "yaml|docker|oci"))
        var src: SourceKind

        @Option(help: ArgumentHelp("What DEST is: docker (registry/prefix, default) or oci (a directory of layouts).", valueName: "docker|oci"))
        var dest: ImageSync.Destination = .docker

        @Argument(help: ArgumentHelp("The list, repository or layout.", valueName: "source"))
        var source: String

        @Argument(help: ArgumentHelp("registry/prefix, or a directory with --dest oci.", valueName: "dest"))
        var destination: String

        @Flag(help: "Name images in DEST by their whole name, registry included.")
        var scoped = false

        @Flag(help: "Copy every platform of each image's index (and the index itself).")
        var all = false

        @Flag(help: "Go on after an image fails; exit 1 at the end.")
        var keepGoing = false

        @Flag(help: "Leave the source's signatures behind.")
        var removeSignatures = false

        @Option(help: OCICommand.cacheHelp)
        var cacheDir: String?

        @OptionGroup var host: HostOptions
        @OptionGroup var registry: RegistryOptions

        @Flag(name: .shortAndLong, help: "Print only errors and the summary.")
        var quiet = false

        enum SourceKind: String, ExpressibleByArgument {
            case yaml, docker, oci
        }

        func run() async throws {
            let configuration = try host.configuration()
            let access = try registry.imageAccess(cache: cacheDir ?? host.layout(from: configuration).cache, file: configuration, root: host.root)
            var sync = ImageSync(access: access)
            sync.allPlatforms = all
            sync.scoped = scoped
            sync.keepGoing = keepGoing
            sync.signatures = CopySignatures(removeExisting: removeSignatures)
            let source: ImageSync.Source
            switch src {
            case .yaml:
                let data: Data
                do {
                    data = try Data(contentsOf: URL(fileURLWithPath: self.source))
                } catch {
                    throw ValidationError("cannot read \(self.source): \((error as NSError).localizedDescription)")
                }
                do {
                    source = .list(try SyncImageList(data: data))
                } catch let error as SyncError {
                    throw ValidationError("\(self.source): \(error)")
                }
            case .docker: source = .repository(self.source)
            case .oci: source = .layout(self.source)
            }
            let reporter = TransferReporter(quiet: quiet)
            let (syncing, destination, kind, quiet) = (sync, self.destination, dest, self.quiet)
            let started = Date()
            let outcomes = try await Interruption.cancellable { () -> [ImageSync.Outcome] in
                let items = try await syncing.items(from: source, to: destination, kind: kind, progress: reporter.handle)
                return try await syncing.run(items, progress: reporter.handle) { item, outcome in
                    reporter.finish()
                    switch outcome {
                    case .copied(let digest): if !quiet { say("copied \(item.source) to \(item.destination) (\(digest))") }
                    case .skipped(let digest): if !quiet { say("skipped \(item.source): \(item.destination) is at \(digest) already") }
                    case .failed(let reason): warn("failed \(item.source): \(reason)")
                    }
                }
            }
            reporter.finish()
            var copied = 0, skipped = 0, failed = 0
            for outcome in outcomes {
                switch outcome {
                case .copied: copied += 1
                case .skipped: skipped += 1
                case .failed: failed += 1
                }
            }
            say("\(copied) copied, \(skipped) skipped, \(failed) failed in \(String(format: "%.1f", Date().timeIntervalSince(started)))s")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

extension ImageSync.Destination: ExpressibleByArgument {}
