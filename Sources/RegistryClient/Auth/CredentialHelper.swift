import Foundation

/// A docker credential helper (`docker-credential-NAME get`), as named by `credHelpers` and
/// `credsStore` in an auth file.
struct CredentialHelper {
    let name: String
    /// How long the helper may take, in seconds.
    var deadline = 30

    func get(registry: String) throws -> RegistryCredentials? {
        let serverURL = registry == ImageReference.dockerHub ? "https://index.docker.io/v1/" : registry
        // Under a deadline: a helper that waits (for a locked keyring, a prompt) must not hold mbctl.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=2", String(deadline), "docker-credential-\(name)", "get"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw RegistryError.credentials(source: "docker-credential-\(name)", reason: "cannot run it: \(error.localizedDescription)")
        }
        input.fileHandleForWriting.write(Data(serverURL.utf8))
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (String(decoding: data, as: UTF8.self) + message).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.localizedCaseInsensitiveContains("credentials not found") { return nil }
            if process.terminationStatus == 124 {
                throw RegistryError.credentials(source: "docker-credential-\(name)", reason: "it did not answer within \(deadline) seconds")
            }
            if process.terminationStatus == 127 {
                throw RegistryError.credentials(source: "docker-credential-\(name)", reason: "the helper is not installed")
            }
            throw RegistryError.credentials(source: "docker-credential-\(name)", reason: text.isEmpty ? "exit status \(process.terminationStatus)" : text)
        }
        struct Answer: Decodable {
            var Username: String
            var Secret: String
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: data) else {
            throw RegistryError.credentials(source: "docker-credential-\(name)", reason: "its answer is not {\"Username\":…,\"Secret\":…}")
        }
        return RegistryCredentials(username: answer.Username, password: answer.Secret)
    }
}
