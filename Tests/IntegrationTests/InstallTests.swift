import Foundation
import Testing

/// mbctl as an operator gets it: `make dist` writes a source tarball that builds without a
/// network; `makepkg` (as nobody, in a network namespace with no way out) builds an Arch
/// package of it holding the static binary, a man page per command, completions for bash, zsh
/// and fish, and the configuration file; `make install` stages the same files without ever
/// replacing an operator's configuration, and `make uninstall` takes them away again.
@Suite(.serialized, .timeLimit(.minutes(45))) struct InstallTests {
    let work: String
    let repository = URL(fileURLWithPath: TestPaths.fixtures).deletingLastPathComponent().deletingLastPathComponent().path

    init() throws {
        // The release build is large: not on the tmpfs some machines have for /tmp.
        work = "/var/tmp/mbctl-install-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: work) }

    /// `command` as nobody, with no network, in `directory`.
    func asNobodyOffline(_ command: [String], in directory: String, environment: [String: String] = [:], deadline: Int = defaultCommandDeadline) throws
        -> CommandResult
    {
        var variables = ["HOME": "\(work)/home", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        variables.merge(environment) { $1 }
        return try runCommand(
            [
                "unshare", "--net", "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                "env", "-C", directory,
            ] + variables.map { "\($0.key)=\($0.value)" }.sorted() + command,
            check: false, deadline: deadline)
    }

    /// The names bash's completion of mbctl offers for `words` (the word being completed last).
    func bashCompletions(script: String, binaries: String, words: [String]) throws -> [String] {
        let quoted = words.map { "'\($0)'" }.joined(separator: " ")
        let program = """
            source '\(script)'
            COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1)
            COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
            _mbctl mbctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let result = try runCommand(["env", "PATH=\(binaries):/usr/bin:/bin", "bash", "-c", program])
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test func anArchPackageBuildsOfflineFromTheSourceTarballAndMakeInstallKeepsTheOperatorsConfiguration() throws {
        defer { cleanUp() }
        let version = try runCommand([TestPaths.mbctl, "version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(version.hasPrefix("mbctl "))
        let pkgver = String(version.dropFirst("mbctl ".count))
        let pkgbuild = try String(contentsOfFile: "\(repository)/packaging/arch/PKGBUILD", encoding: .utf8)
        #expect(pkgbuild.contains("\npkgver=\(pkgver)\n"), "PKGBUILD's pkgver is not mbctl's version \(pkgver)")

        // The tarball: resolved from SwiftPM's cache into a scratch path of its own.
        try runCommand(["make", "-C", repository, "dist", "BUILDDIR=\(work)/dist", "SCRATCH=\(work)/scratch"], deadline: 900)
        let tarball = "\(work)/dist/mbctl-\(pkgver).tar.gz"
        #expect(FileManager.default.fileExists(atPath: tarball))

        // makepkg refuses root; Debian's makepkg has no pacman to ask (--nodeps).
        let arch = "\(work)/arch"
        try FileManager.default.createDirectory(atPath: arch, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(work)/home", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(repository)/packaging/arch/PKGBUILD", toPath: "\(arch)/PKGBUILD")
        try FileManager.default.copyItem(atPath: tarball, toPath: "\(arch)/mbctl-\(pkgver).tar.gz")
        try runCommand(["chown", "-R", "nobody:nogroup", arch, "\(work)/home"])
        let makepkg = try asNobodyOffline(["makepkg", "--nodeps", "--noconfirm"], in: arch, environment: ["PACMAN": "true"], deadline: 2400)
        #expect(makepkg.succeeded, "makepkg failed:\n\(makepkg.stdout.suffix(3000))\n\(makepkg.stderr.suffix(3000))")
        #expect(!(makepkg.stdout + makepkg.stderr).contains("Package contains reference to $srcdir"), "the binary names its build directory")
        #expect(!(makepkg.stdout + makepkg.stderr).contains("CFSocket"), "something ran a Foundation Process without a network")
        let package = "\(arch)/mbctl-\(pkgver)-1-x86_64.pkg.tar.gz"
        try #require(FileManager.default.fileExists(atPath: package))

        // What the package holds.
        let root = "\(work)/installed"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try runCommand(["bsdtar", "-xf", package, "-C", root])
        let info = try String(contentsOfFile: "\(root)/.PKGINFO", encoding: .utf8)
        #expect(info.contains("pkgver = \(pkgver)-1"))
        #expect(info.contains("backup = etc/mbctl/config.toml"))
        for library in ["curl", "libarchive", "zlib", "isa-l"] { #expect(info.contains("depend = \(library)\n")) }

        let binary = "\(root)/usr/bin/mbctl"
        let libraries = try runCommand(["ldd", binary]).stdout
        #expect(!libraries.contains("swift") && !libraries.contains("not found"), "the binary needs more than the system's libraries:\n\(libraries)")
        #expect(try runCommand([binary, "version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == version)
        let strings = try runCommand(["grep", "-c", "-a", arch, binary], check: false)
        #expect(strings.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the binary names its build directory")

        // A page per command, each readable without a warning.
        let manual = "\(root)/usr/share/man/man1"
        let pages = try FileManager.default.contentsOfDirectory(atPath: manual).sorted()
        for page in ["mbctl.1.gz", "mbctl.machines.pull.1.gz", "mbctl.machines.rollback.1.gz", "mbctl.oci.copy.1.gz", "mbctl.cache.prune.1.gz"] {
            #expect(pages.contains(page), "no \(page) among \(pages)")
        }
        for page in pages {
            let shown = try runCommand(["env", "MANWIDTH=100", "man", "-l", "\(manual)/\(page)"], check: false)
            #expect(shown.succeeded && shown.stderr.isEmpty && shown.stdout.contains("NAME"), "man \(page): \(shown.stderr)")
        }
        let pull = try runCommand(["env", "MANWIDTH=200", "man", "-l", "\(manual)/mbctl.machines.pull.1.gz"]).stdout
        #expect(pull.contains("--volume /path=config|data|skip|/host/path"))
        // Examples stay whole command lines.
        #expect(pull.contains("mbctl machines pull oci:/srv/images/app:1.0 app --volume /var/lib/app=data"))

        // Completions: bash loads them and completes commands and this host's machine names.
        let bash = "\(root)/usr/share/bash-completion/completions/mbctl"
        let host = "\(work)/host"
        for machine in ["alpha", "beta"] {
            try FileManager.default.createDirectory(atPath: "\(host)/var/lib/man8machines/\(machine)", withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(atPath: "\(host)/var/lib/man8machines/.staging-x", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(host)/var/lib/man8machines/not a name", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(host)/etc/systemd/nspawn", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: "\(host)/etc/systemd/nspawn/gamma.nspawn"))
        #expect(try runCommand(["bash", "-c", "source '\(bash)' && complete -p mbctl"]).stdout.contains("-F _mbctl mbctl"))
        #expect(try bashCompletions(script: bash, binaries: "\(root)/usr/bin", words: ["mbctl", "mach"]) == ["machines"])
        let names = try bashCompletions(script: bash, binaries: "\(root)/usr/bin", words: ["mbctl", "machines", "start", "--root", host, ""])
        #expect(names == ["alpha", "beta", "gamma"])
        let prefixed = try bashCompletions(script: bash, binaries: "\(root)/usr/bin", words: ["mbctl", "machines", "rollback", "--root", host, "b"])
        #expect(prefixed == ["beta"])
        for file in ["usr/share/zsh/site-functions/_mbctl", "usr/share/fish/vendor_completions.d/mbctl.fish"] {
            let text = try String(contentsOfFile: "\(root)/\(file)", encoding: .utf8)
            #expect(text.contains("machines") && text.contains("---completion"), "\(file) is not mbctl's completion")
        }

        // The configuration file: the shipped example, which the installed mbctl reads.
        let example = try String(contentsOfFile: "\(repository)/Examples/config.toml", encoding: .utf8)
        #expect(try String(contentsOfFile: "\(root)/etc/mbctl/config.toml", encoding: .utf8) == example)
        #expect(try runCommand([binary, "machines", "list", "--root", host, "--config", "\(root)/etc/mbctl/config.toml"]).succeeded)
        // The timer of unattended upgrades ships (disabled: nothing enables it), running this mbctl.
        let service = try String(contentsOfFile: "\(root)/usr/lib/systemd/system/mbctl-auto-update.service", encoding: .utf8)
        #expect(service.contains("\nExecStart=/usr/bin/mbctl machines auto-update\n"), "\(service)")
        let timer = try String(contentsOfFile: "\(root)/usr/lib/systemd/system/mbctl-auto-update.timer", encoding: .utf8)
        #expect(timer.contains("OnCalendar=daily") && timer.contains("Persistent=true") && timer.contains("RandomizedDelaySec="))

        // make install (as root, from the tree makepkg built) over an operator's configuration.
        let tree = "\(arch)/src/mbctl-\(pkgver)"
        let stage = "\(work)/stage"
        let operatorConfiguration = "[network]\nbridge = \"br-ops\"\n"
        try FileManager.default.createDirectory(atPath: "\(stage)/etc/mbctl", withIntermediateDirectories: true)
        try operatorConfiguration.write(toFile: "\(stage)/etc/mbctl/config.toml", atomically: true, encoding: .utf8)
        let install = try runCommand(["unshare", "--net", "make", "-C", tree, "install", "PREFIX=/usr", "DESTDIR=\(stage)"], check: false, deadline: 1200)
        #expect(install.succeeded, "make install failed:\n\(install.stderr.suffix(3000))")
        #expect(try String(contentsOfFile: "\(stage)/etc/mbctl/config.toml", encoding: .utf8) == operatorConfiguration)
        #expect(install.stdout.contains("kept \(stage)/etc/mbctl/config.toml"))
        for file in [
            "usr/bin/mbctl", "usr/share/man/man1/mbctl.machines.pull.1", "usr/share/bash-completion/completions/mbctl",
            "usr/share/zsh/site-functions/_mbctl", "usr/share/fish/vendor_completions.d/mbctl.fish", "usr/share/doc/mbctl/config.toml",
            "usr/lib/systemd/system/mbctl-auto-update.service", "usr/lib/systemd/system/mbctl-auto-update.timer",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(stage)/\(file)"), "make install did not install \(file)")
        }

        // make uninstall leaves only what the operator made.
        try runCommand(["make", "-C", tree, "uninstall", "PREFIX=/usr", "DESTDIR=\(stage)"])
        let left = try runCommand(["find", stage, "-type", "f"]).stdout.split(separator: "\n").map(String.init)
        #expect(left == ["\(stage)/etc/mbctl/config.toml"])
    }

    /// The manual pages are written by mbctl-manual from mbctl's help dump, with no process
    /// started in between: as nobody, in a network namespace without loopback (where Foundation's
    /// Process could not make its wakeup socket pair and once hung `make man` for 13 minutes),
    /// while both cores are busy, twenty times in a row.
    @Test func manualPagesAreWrittenAsNobodyWithoutANetworkUnderLoad() throws {
        defer { cleanUp() }
        let binaries = URL(fileURLWithPath: TestPaths.mbctl).deletingLastPathComponent().path
        let manual = "\(binaries)/mbctl-manual"
        try #require(FileManager.default.isExecutableFile(atPath: manual), "no \(manual): swift build --build-tests builds it")
        try runCommand(["cp", TestPaths.mbctl, manual, work])
        try runCommand(["chown", "-R", "nobody:nogroup", work])
        let load = try (0..<2).map { index in
            try BackgroundProcess(["sh", "-c", "while :; do :; done"], logPath: "\(work)/load\(index).log")
        }
        defer { load.forEach { $0.stop(abruptly: true) } }
        for round in 0..<20 {
            let pages = "\(work)/man\(round)"
            let written = try asNobodyOffline(
                ["sh", "-c", "mkdir \(pages) && ./mbctl --experimental-dump-help | ./mbctl-manual 0.0 2026-01-01 \(pages)"],
                in: work, deadline: 60)
            #expect(written.succeeded, "round \(round): \(written.stderr)")
            #expect(!(written.stdout + written.stderr).contains("CFSocket"), "round \(round): \(written.stderr)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: pages)) ?? []
            #expect(names.contains("mbctl.1") && names.contains("mbctl.machines.pull.1") && names.count > 20, "round \(round): \(names)")
        }
        let shown = try runCommand(["env", "MANWIDTH=200", "man", "-l", "\(work)/man0/mbctl.machines.pull.1"], check: false)
        #expect(shown.succeeded && shown.stderr.isEmpty, "\(shown.stderr)")
        #expect(shown.stdout.contains("--volume /path=config|data|skip|/host/path"))
        #expect(shown.stdout.contains("mbctl machines pull oci:/srv/images/app:1.0 app --volume /var/lib/app=data"))
    }
}
