/// One `[machines.NAME]` table of a machines file: what machine NAME should be.
public struct MachineSpec: Equatable, Sendable {
    public var name: MachineName
    /// The image, as `machines pull` takes it.
    public var image: String
    /// Where each image volume goes, by its path in the machine.
    public var volumes: [String: VolumeChoice]
    public var settings: MachineSettings
    /// Whether it starts with the host (and is started now).
    public var enabled: Bool
    /// The line of its table, for messages.
    public var line: Int

    /// The machines it must come after: those it requires or resolves through.
    var dependencies: [String] {
        var names = settings.requires
        if case .machine(let server) = settings.dns { names.append(server.value) }
        return names
    }
}
