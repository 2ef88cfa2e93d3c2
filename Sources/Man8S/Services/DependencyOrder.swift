/// Machines in an order where each comes after the machines it depends on (requires, or
/// resolves through): the order in which they are started, upgraded or applied.
enum DependencyOrder {
    /// `names`, each after those of its `dependencies` that are among `names`, otherwise in the
    /// order given. Machines that depend on each other in a circle are refused, naming them.
    static func sorted(_ names: [String], dependencies: (String) -> [String]) throws -> [String] {
        let given = Set(names)
        var ordered: [String] = [], placed = Set<String>()
        func place(_ name: String, path: [String]) throws {
            guard !placed.contains(name) else { return }
            if let start = path.firstIndex(of: name) {
                throw Man8SError.invalidSetting(name, reason: "machines require each other in a circle: " + (path[start...] + [name]).joined(separator: " → "))
            }
            for dependency in dependencies(name) where given.contains(dependency) { try place(dependency, path: path + [name]) }
            placed.insert(name)
            ordered.append(name)
        }
        for name in names { try place(name, path: []) }
        return ordered
    }
}
