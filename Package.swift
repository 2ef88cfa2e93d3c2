// swift-tools-version:6.0
//
// mbctl: the Man8S command-line tool. See README.md and DEVELOPERS.md.
//
// Dependencies point one way:
//   SystemErrors (the one filesystem error), BlockingWork (threads off the concurrency pool)
//     <- every library
//   OCILayout  <- RegistryClient, ImageArchive (libarchive)
//   OCILayout, ConfinedFilesystem <- LayerUnpacker (libarchive)
//   RegistryClient, OCILayout <- TrustPolicy (signature policy, verifying and making signatures)
//   ImageAccess (getting images: location, source, store, layers) uses those;
//   Man8S uses all of them; mbctl only parses arguments and prints.
import Foundation
import PackageDescription

let package = Package(
    name: "mbctl",
    products: [
        .executable(name: "mbctl", targets: ["mbctl"]),
        .executable(name: "mbctl-manual", targets: ["mbctl-manual"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // 4: _CryptoExtras reads Ed25519 public keys from PEM.
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"5.0.0"),
        // TOML (toml++ underneath) for mbctl's configuration file and registries.conf.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // YAML for registries.d, where containers/image keeps where signatures are.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // X.509: the certificate chains of keyless (Fulcio) sigstore signatures.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        // Semantic versions, for oci sync's images-by-semver.
        .package(url: "https://github.com/mxcl/Version", from: "2.2.1"),
    ],
    targets: [
        // libcurl, found through pkg-config; its variadic setopt is wrapped by CCurlShim.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        // libarchive, found through pkg-config.
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),

        // Intel ISA-L's inflate: gzip layers decompress 2-3x faster than with zlib, which is
        // what bounds unpacking speed on two cores (see scripts/bench-unpack).
        .systemLibrary(
            name: "CISAL",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"])]
        ),
        // The errors every module shares: a failed system call on a path (one type, whichever
        // module made the call), a refused path, a file of the wrong kind, a kept cause.
        .target(name: "SystemErrors"),
        // Blocking work (file I/O, lock waits) on threads of its own, never on the few threads
        // Swift concurrency runs tasks on; cancellable through a flag.
        .target(name: "BlockingWork"),
        // openat2(2), copy_file_range(2) and makedev(3), which Swift cannot call directly.
        .target(name: "CLinuxSystem"),
        // File operations that stay inside a directory tree: in-root resolution for rootfses,
        // beneath-only paths for host directories, removal and copies through descriptors.
        .target(name: "ConfinedFilesystem", dependencies: ["SystemErrors", "CLinuxSystem"]),

        .target(
            name: "LayerUnpacker",
            dependencies: [
                "OCILayout", "ConfinedFilesystem", "SystemErrors", "BlockingWork", "CArchive", "CISAL", "CLinuxSystem",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "OCILayout",
            dependencies: ["SystemErrors", "BlockingWork", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Image archives (oci-archive, docker-archive): read and written with libarchive, the
        // tar parser the layers go through too.
        .target(name: "ImageArchive", dependencies: ["OCILayout", "SystemErrors", "BlockingWork", "CArchive"]),
        // TOML texts (the configuration file, registries.conf) read with TOMLKit, guarded against
        // what its bundled toml++ cannot parse safely.
        .target(name: "TOMLDocument", dependencies: [.product(name: "TOMLKit", package: "TOMLKit")]),
        .target(
            name: "RegistryClient",
            dependencies: ["OCILayout", "SystemErrors", "CCurlShim", "TOMLDocument", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // containers-policy.json(5): which images the operator trusts, and by which signatures.
        // GnuPG Made Easy: OpenPGP "simple signing" signatures verified as containers/image
        // verifies them, by gpg in a home of its own holding only the policy's keys.
        .systemLibrary(
            name: "CGPGME",
            pkgConfig: "gpgme",
            providers: [.apt(["libgpgme-dev"])]
        ),
        // libsodium: scrypt and the NaCl secretbox that seal cosign's encrypted private keys,
        // which swift-crypto does not offer.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // Signatures checked with swift-crypto (ECDSA, Ed25519, and RSA from _CryptoExtras).
        .target(
            name: "TrustPolicy",
            dependencies: [
                "RegistryClient", "OCILayout", "SystemErrors", "BlockingWork", "CGPGME", "CSodium", "YAMLDocument",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // YAML from outside read as a node tree, every key a string given once.
        .target(name: "YAMLDocument", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Getting an image, one way for every command: location, source, store, layers to apply.
        .target(
            name: "ImageAccess",
            dependencies: [
                "OCILayout", "ImageArchive", "RegistryClient", "TrustPolicy", "ConfinedFilesystem", "LayerUnpacker", "SystemErrors", "BlockingWork",
            ]
        ),
        // oci sync: image lists (skopeo sync's YAML, a repository, a layout) mirrored into a site's registry.
        .target(
            name: "ImageSync",
            dependencies: [
                "ImageAccess", "RegistryClient", "OCILayout", "YAMLDocument", .product(name: "Yams", package: "Yams"),
                .product(name: "Version", package: "Version"),
            ]
        ),
        .target(
            name: "Man8S",
            dependencies: [
                "ImageAccess", "OCILayout", "RegistryClient", "TrustPolicy", "ConfinedFilesystem", "LayerUnpacker", "TOMLDocument",
                "SystemErrors", "BlockingWork", .product(name: "Crypto", package: "swift-crypto"), .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .executableTarget(
            name: "mbctl",
            dependencies: [
                "Man8S", "ImageAccess", "ImageSync", "OCILayout", "RegistryClient", "TrustPolicy", "LayerUnpacker", "SystemErrors", "BlockingWork",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Writes the manual pages from mbctl's help (make man), starting no process.
        .executableTarget(name: "mbctl-manual", path: "Sources/ManualPages"),

        // Every parser of foreign bytes, one entry point each: fuzzed by scripts/fuzz, and the
        // corpora in Tests/Fixtures/fuzz replayed by FuzzTargetsTests.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "Man8S", "ImageAccess", "ImageArchive", "LayerUnpacker", "OCILayout", "RegistryClient", "TrustPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // What tests share: commands and background processes run with a deadline, loopback ports.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "OCILayoutTests", dependencies: ["OCILayout", "TestSupport", "SystemErrors"]),
        .testTarget(name: "TOMLDocumentTests", dependencies: ["TOMLDocument"]),
        .testTarget(name: "TrustPolicyTests", dependencies: ["TrustPolicy", "RegistryClient", "OCILayout", "TestSupport"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "RegistryClientTests", dependencies: ["RegistryClient", "OCILayout", "TestSupport"]),
        .testTarget(
            name: "Man8STests", dependencies: ["Man8S", "ImageAccess", "OCILayout", "ConfinedFilesystem", "LayerUnpacker", "TestSupport", "SystemErrors"]),
        .testTarget(name: "ConfinedFilesystemTests", dependencies: ["ConfinedFilesystem", "TestSupport", "SystemErrors"]),
        .testTarget(name: "ImageArchiveTests", dependencies: ["ImageArchive", "TestSupport", "SystemErrors"]),
        .testTarget(name: "ImageAccessTests", dependencies: ["ImageAccess", "RegistryClient"]),
        .testTarget(name: "ImageSyncTests", dependencies: ["ImageSync", "RegistryClient"]),
        .testTarget(name: "LayerUnpackerTests", dependencies: ["LayerUnpacker", "ConfinedFilesystem", "OCILayout", "TestSupport", "SystemErrors"]),
        // Tests that drive real tools: a docker-registry on 127.0.0.1, skopeo and umoci as
        // oracles and fixture makers. Fixtures are found next to the sources (Tests/Fixtures).
        .testTarget(name: "IntegrationTests", dependencies: ["Man8S", "RegistryClient", "OCILayout", "TestSupport"]),
    ]
)

// libFuzzer's driver, built only by scripts/fuzz (MBCTL_FUZZ=1, with -sanitize=fuzzer, which
// supplies main): an ordinary build has no libFuzzer to link it with.
if ProcessInfo.processInfo.environment["MBCTL_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "mbctl-fuzz", dependencies: ["FuzzTargets"], path: "Fuzz"))
    package.products.append(.executable(name: "mbctl-fuzz", targets: ["mbctl-fuzz"]))
}
