import ArgumentParser
import ImageAccess
import Man8S
import OCILayout
import RegistryClient
import TrustPolicy
import Foundation

/// The options every command that reads images takes, with the names skopeo gives them.
struct RegistryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Credentials for the registry.", valueName: "user:password"))
    var creds: String?

    @Option(help: ArgumentHelp("Read credentials from this auth.json (default: $REGISTRY_AUTH_FILE, then the containers and docker files).", valueName: "file"))
    var authfile: String?

    @Option(help: ArgumentHelp("Trust the CAs (*.crt) and use the client certificate (*.cert, *.key) in this directory.", valueName: "dir"))
    var certDir: String?

    @Option(help: ArgumentHelp("Verify registry certificates; false also allows plain HTTP. Loopback registries may always use plain HTTP.", valueName: "bool"))
    var tlsVerify: Bool?

    @Option(help: ArgumentHelp("The platform to pull from a multi-platform image (default: this machine's).", valueName: "os/arch[/variant]"))
    var platform: String?

    @Option(help: "How many blobs to download at once (default 4).")
    var jobs: Int?

    @Option(help: ArgumentHelp("Attempts per request before giving up.", valueName: "n"))
    var retryTimes: Int = 5

    @Option(help: ArgumentHelp("Cap the download (and push upload) rate, in bytes per second (0: no cap).", valueName: "bytes"))
    var limitRate: Int64 = 0

    @Option(
        help: ArgumentHelp(
            "Read this registries.conf instead of /etc/containers/registries.conf, its drop-ins and ~/.config/containers/registries.conf.", valueName: "file"))
    var registriesConf: String?

    @Option(
        help: ArgumentHelp(
            "Let images in by this signature policy (containers-policy.json(5)) instead of ~/.config/containers/policy.json or /etc/containers/policy.json; with neither, images are not verified.",
            valueName: "file"))
    var policy: String?

    @Option(
        name: .customLong("registries.d"),
        help: ArgumentHelp(
            "Find signatures as the *.yaml files of this directory say (containers-registries.d(5)) instead of ~/.config/containers/registries.d or /etc/containers/registries.d.",
            valueName: "dir"))
    var registriesDirectory: String?

    @Option(
        help: ArgumentHelp(
            "Seconds in which each request other than a blob download (manifest, config, token) must be done; blob downloads only must not stall.",
            valueName: "seconds"))
    var requestTimeout: Int = 120

    func validate() throws {
        if let jobs, !(1...64).contains(jobs) { throw ValidationError("--jobs must be between 1 and 64") }
        guard retryTimes >= 1 else { throw ValidationError("--retry-times must be at least 1") }
        guard (1...86_400).contains(requestTimeout) else { throw ValidationError("--request-timeout must be between 1 and 86400 seconds") }
        guard limitRate >= 0 else { throw ValidationError("--limit-rate must not be negative") }
        if let platform, Platform(parsing: platform) == nil {
            throw ValidationError("--platform takes os/arch[/variant], e.g. linux/arm64 or linux/arm/v7")
        }
    }

    var chosenPlatform: Platform {
        platform.flatMap(Platform.init(parsing:)) ?? .host
    }

    /// The registry settings: these flags, else the configuration file's, else the defaults.
    func registryConfiguration(defaults file: ConfigurationFile, root: String? = nil) throws -> RegistryClient.Configuration {
        var configuration = RegistryClient.Configuration()
        let registriesFiles = (registriesConf ?? file.registriesConf).map { [$0] } ?? RegistriesConfiguration.standardFiles(root: root)
        configuration.registries = try RegistriesConfiguration.load(registriesFiles)
        configuration.transport.certificateRoots = configuration.transport.certificateRoots.map { (root ?? "") + $0 }
        configuration.transport.verifyTLS = tlsVerify ?? file.tlsVerify ?? true
        configuration.transport.certificateDirectory = certDir ?? file.certDirectory
        configuration.transport.maxReceiveSpeed = limitRate
        configuration.transport.requestDeadline = requestTimeout
        configuration.transport.userAgent = "mbctl/\(MbctlVersion.current)"
        configuration.credentials.explicit = try creds.map(RegistryCredentials.init(parsing:))
        configuration.credentials.authFile = authfile ?? file.authFile
        configuration.retry.maxAttempts = retryTimes
        return configuration
    }

    /// How images are got: these flags and the configuration file's settings, through `cache`.
    func imageAccess(cache: String, file: ConfigurationFile, root: String? = nil) throws -> ImageAccess {
        var access = ImageAccess(registry: try registryConfiguration(defaults: file, root: root), platform: chosenPlatform, cacheDirectory: cache)
        access.jobs = jobs ?? file.jobs ?? 4
        access.trust = try ImageTrust.load(
            policy: policy, registriesDirectory: registriesDirectory, root: root, home: ProcessInfo.processInfo.environment["HOME"])
        return access
    }
}
