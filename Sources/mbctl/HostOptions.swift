import ArgumentParser
import Man8S

/// Where the host's Man8S directories are.
struct HostOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Put every host path (machines, nspawn files, configs, data, cache) under this directory, to try mbctl without touching the host.", valueName: "dir"))
    var root: String?

    @Option(help: ArgumentHelp("The host's static busybox, copied into machines.", valueName: "file"))
    var busybox: String?

    @Option(help: ArgumentHelp("The bridge machines join.", valueName: "name"))
    var bridge: String?

    var layout: HostLayout {
        var layout = HostLayout()
        if let bridge { layout.bridge = bridge }
        if let busybox {
            layout.busybox = busybox
        } else if !FileManager.default.isExecutableFile(atPath: layout.busybox), FileManager.default.isExecutableFile(atPath: "/usr/bin/busybox") {
            // Debian's busybox-static installs it here.
            layout.busybox = "/usr/bin/busybox"
        }
        return root.map { layout.rooted(at: $0) } ?? layout
    }
}

import Foundation
