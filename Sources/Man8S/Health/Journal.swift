import Foundation

/// Messages to the systemd journal about a machine, over journald's native socket, so that
/// `journalctl -u systemd-nspawn@NAME` (and `mbctl machines logs NAME`) shows them with the
/// machine's own: journald files a root process's message under `OBJECT_SYSTEMD_UNIT`'s unit.
/// Nothing is sent where no journald listens.
enum Journal {
    static let socketPath = "/run/systemd/journal/socket"

    /// Sends `message` (one line: callers escape what a machine wrote) for `unit`, at syslog
    /// `priority` (4 warning, 5 notice, 6 info).
    static func send(_ message: String, unit: String, priority: Int) {
        let fields = [
            "MESSAGE=\(oneLine(message))", "PRIORITY=\(priority)", "SYSLOG_IDENTIFIER=mbctl", "OBJECT_SYSTEMD_UNIT=\(oneLine(unit))",
        ]
        let datagram = Array((fields.joined(separator: "\n") + "\n").utf8)
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return }
        defer { close(socket) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            let bytes = Array(socketPath.utf8)
            path.copyBytes(from: bytes.prefix(path.count - 1))
        }
        // Best effort: a journal that is not there, or full, loses the message, never the check.
        _ = datagram.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
    }

    /// `text` on one line, control characters written as `\n`, `\t` or `\xHH`.
    static func escaped<S: StringProtocol>(_ text: S) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\\": result += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                    result += String(format: "\\x%02x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }

    private static func oneLine(_ text: String) -> String { text.contains(where: \.isNewline) ? escaped(text) : text }
}
