import Foundation
import TestSupport
import ConfinedFilesystem
import Testing
@testable import Man8S

@Suite struct InitSystemTests {
    let directory: String
    var root: String { "\(directory)/root" }
    var outside: String { "\(directory)/outside" }
    static let hostBusybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/bin/busybox"

    init() throws {
        directory = NSTemporaryDirectory() + "mbctl-init-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(directory)/root/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }

    func run(_ arguments: [String]) throws -> String {
        try runCommand(arguments, check: false).stdout
    }

    @Test func installsBusyboxShellScriptsAndHook() throws {
        defer { cleanUp() }
        let busybox = try InitSystem(hostBusybox: Self.hostBusybox).install(into: RootFilesystem(path: root))
        #expect(busybox == "/bin/busybox")
        #expect(FileManager.default.contentsEqual(atPath: "\(root)/bin/busybox", andPath: Self.hostBusybox))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/bin/sh") == "busybox")
        for file in InitScripts.files(busybox: busybox) {
            #expect(FileManager.default.isExecutableFile(atPath: root + file.path), "\(file.path)")
        }
        let initScript = try String(contentsOfFile: "\(root)/sbin/busybox-init.sh", encoding: .utf8)
        #expect(initScript.hasPrefix("#!/bin/busybox sh\n"))
        let hook = try String(contentsOfFile: "\(root)/usr/share/udhcpc/default.script", encoding: .utf8)
        // Every tool the hook runs is busybox's.
        let commands = hook.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(!hook.contains("ifconfig"))
        #expect(commands.filter { $0.hasPrefix("ip ") || $0.hasPrefix("route ") || $0.hasPrefix("mv ") }.isEmpty)
    }

    @Test func keepsTheImagesOwnBusyboxAndShell() throws {
        defer { cleanUp() }
        try "image busybox".write(toFile: "\(root)/bin/busybox", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/bin/sh", withDestinationPath: "dash")
        let busybox = try InitSystem(hostBusybox: Self.hostBusybox).install(into: RootFilesystem(path: root))
        #expect(busybox == InitSystem.alternateBusybox)
        #expect(try String(contentsOfFile: "\(root)/bin/busybox", encoding: .utf8) == "image busybox")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/bin/sh") == "dash")
        #expect(FileManager.default.contentsEqual(atPath: root + InitSystem.alternateBusybox, andPath: Self.hostBusybox))
        let execute = try String(contentsOfFile: "\(root)/sbin/busybox-execute.sh", encoding: .utf8)
        #expect(execute.contains("BUSYBOX_RUN=\(InitSystem.alternateBusybox)"))
    }

    @Test func hostileSymlinksInTheImageCannotRedirectTheInstall() throws {
        defer { cleanUp() }
        // The links' targets exist inside the root too, where they must resolve.
        try FileManager.default.createDirectory(atPath: "\(root)\(outside)", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/sbin", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/usr", withDestinationPath: "../../../../\(outside)")
        try InitSystem(hostBusybox: Self.hostBusybox).install(into: RootFilesystem(path: root))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        // The symlinks resolve as if the rootfs were /: the files are inside it.
        #expect(FileManager.default.fileExists(atPath: "\(root)\(outside)/busybox-init.sh"))
        #expect(FileManager.default.fileExists(atPath: "\(root)\(outside)/share/udhcpc/default.script"))
    }

    @Test func loadEnvsTakesValuesLiterally() throws {
        defer { cleanUp() }
        try InitSystem(hostBusybox: Self.hostBusybox).install(into: RootFilesystem(path: root))
        let marker = "\(directory)/pwned"
        let envFile = "\(directory)/man8env.env"
        try """
        # a comment
        PLAIN=value
        SPACES=hello there  world
        EQUALS=a=b=c
        QUOTES='single' "double"
        DOLLAR=$HOME `touch \(marker)` $(touch \(marker))

        bad-key=ignored
        LAST=no newline at end
        """.write(toFile: envFile, atomically: true, encoding: .utf8)
        let script = try String(contentsOfFile: "\(root)/sbin/busybox-load-envs.sh", encoding: .utf8)
            .replacingOccurrences(of: "/man8env.env", with: envFile)
        try script.write(toFile: "\(directory)/load.sh", atomically: true, encoding: .utf8)
        let printed = try run([
            Self.hostBusybox, "sh", "-c",
            ". \(directory)/load.sh; for v in PLAIN SPACES EQUALS QUOTES DOLLAR LAST; do eval \"printf '%s|' \\\"\\$$v\\\"\"; done",
        ])
        #expect(printed == "value|hello there  world|a=b=c|'single' \"double\"|$HOME `touch \(marker)` $(touch \(marker))|no newline at end|")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func protectsRunAndTmp() throws {
        defer { cleanUp() }
        try FileManager.default.createDirectory(atPath: "\(root)/run/lock", withIntermediateDirectories: true)
        try "pid".write(toFile: "\(root)/tmp.keep", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(root)/tmp", withIntermediateDirectories: true)
        try "t".write(toFile: "\(root)/tmp/file", atomically: true, encoding: .utf8)
        try InitSystem(hostBusybox: Self.hostBusybox).protectRunAndTmp(in: RootFilesystem(path: root))
        #expect(FileManager.default.fileExists(atPath: "\(root)/run.man8sprotected/lock"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/tmp.man8sprotected/file"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/run").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/tmp").isEmpty)
        let tmpMode = try FileManager.default.attributesOfItem(atPath: "\(root)/tmp")[.posixPermissions] as? Int
        #expect(tmpMode == 0o1777)
    }
}
