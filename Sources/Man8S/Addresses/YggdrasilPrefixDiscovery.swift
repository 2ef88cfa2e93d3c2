import BlockingWork
import Foundation
import SystemErrors

/// Finds the host's yggdrasil subnet (the `subnet` of `getself`), which machines' addresses are
/// taken from: from the admin socket named by `AdminListen` in yggdrasil's config (default
/// `unix:///var/run/yggdrasil.sock`), else from `yggdrasilctl -json getself`.
public struct YggdrasilPrefixDiscovery: Sendable {
    public var configFiles: [String]
    public var defaultEndpoint = "unix:///var/run/yggdrasil.sock"
    /// The yggdrasilctl to ask when the admin socket does not answer (found on PATH).
    public var yggdrasilctl = "yggdrasilctl"
    /// How long `yggdrasilctl getself` may take, in seconds.
    public var yggdrasilctlDeadline = 10

    public init(configFiles: [String] = HostLayout().yggdrasilConfigs) {
        self.configFiles = configFiles
    }

    /// The subnet, asked on a thread of its own: the admin socket and `yggdrasilctl` are
    /// blocking I/O, kept off the concurrency pool.
    public func discover() async throws -> IPv6Prefix {
        try await BlockingWork.run { try discoverBlocking() }
    }

    private func discoverBlocking() throws -> IPv6Prefix {
        let endpoint = adminEndpoint()
        var problems: [String] = []
        do {
            return try Self.prefix(from: try query(endpoint), source: endpoint)
        } catch {
            problems.append("\(endpoint): \(error)")
        }
        do {
            return try Self.prefix(from: try runYggdrasilctl(endpoint), source: "yggdrasilctl")
        } catch {
            problems.append("yggdrasilctl: \(error)")
        }
        throw Man8SError.noPrefix(reasons: problems)
    }

    /// `AdminListen` of the first config file that has one (HJSON or JSON).
    func adminEndpoint() -> String {
        for file in configFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            if let value = Self.adminListen(in: text) { return value }
        }
        return defaultEndpoint
    }

    /// The `AdminListen` value of an HJSON or JSON config: `AdminListen: unix:///x` or
    /// `"AdminListen": "unix:///x"`, wherever it stands on its line.
    static func adminListen(in text: String) -> String? {
        guard let key = text.range(of: #""?AdminListen"?\s*:\s*"?"#, options: .regularExpression) else { return nil }
        let value = text[key.upperBound...].prefix { !"\"\n\r\t ,}".contains($0) }
        return value.isEmpty || value == "none" ? nil : String(value)
    }

    /// Sends `getself` to the admin endpoint (`unix:///path` or `tcp://host:port`) and returns the answer.
    func query(_ endpoint: String) throws -> Data {
        guard endpoint.hasPrefix("unix://") else {
            throw Man8SError.yggdrasil(source: endpoint, reason: "only unix:// admin sockets are supported")
        }
        let path = String(endpoint.dropFirst("unix://".count))
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FilesystemError(path: path, operation: "open a socket for", errno: errno) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw FilesystemError(path: path, operation: "connect to", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw FilesystemError(path: path, operation: "connect to", errno: errno) }
        let request = Array("{\"request\":\"getself\",\"keepalive\":false}".utf8)
        guard write(fd, request, request.count) == request.count else { throw FilesystemError(path: path, operation: "write to", errno: errno) }
        var answer = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while answer.count < 1 << 20 {
            let got = read(fd, &buffer, buffer.count)
            if got <= 0 { break }
            answer.append(contentsOf: buffer[0..<got])
            if (try? JSONSerialization.jsonObject(with: answer)) != nil { break }
        }
        return answer
    }

    func runYggdrasilctl(_ endpoint: String) throws -> Data {
        // Under a deadline: a yggdrasil that accepts and never answers must not hold mbctl.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=2", String(yggdrasilctlDeadline), yggdrasilctl, "-endpoint", endpoint, "-json", "getself"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let reason =
                process.terminationStatus == 124
                ? "it did not answer within \(yggdrasilctlDeadline) seconds" : "it exited with status \(process.terminationStatus)"
            throw Man8SError.yggdrasil(source: "yggdrasilctl -endpoint \(endpoint) getself", reason: reason)
        }
        return data
    }

    /// The `subnet` anywhere in a `getself` answer (0.4 and 0.5 nest it differently).
    static func prefix(from answer: Data, source: String) throws -> IPv6Prefix {
        func find(_ value: Any) -> String? {
            if let object = value as? [String: Any] {
                if let subnet = object["subnet"] as? String { return subnet }
                for child in object.values { if let found = find(child) { return found } }
            }
            return nil
        }
        guard let json = try? JSONSerialization.jsonObject(with: answer), let subnet = find(json) else {
            throw Man8SError.yggdrasil(source: source, reason: "its answer holds no subnet")
        }
        return try IPv6Prefix(parsing: subnet)
    }
}
