import Foundation
import RegistryClient
import Testing
import TrustPolicy

/// registries.d as containers/image reads it: the narrowest scope that says decides, lookaside
/// paths get the repository appended, a scope given twice is an error naming both files.
struct SignatureStorageTests {
    func directory(_ files: [String: String]) throws -> String {
        let path = NSTemporaryDirectory() + "mbctl-registries.d-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: "\(path)/\(name)", atomically: true, encoding: .utf8) }
        return path
    }

    @Test func theNarrowestScopeThatSaysDecides() throws {
        let path = try directory([
            "default.yaml": "default-docker:\n  lookaside: https://sigs.example/store\n",
            "site.yaml": """
            docker:
              registry.example:
                use-sigstore-attachments: true
              registry.example/team/app:
                lookaside: file:///var/lib/sigs/
              registry.example/team/app:v2:
                use-sigstore-attachments: false
            """,
            "ignored.yml": "not: [read",
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let storage = try SignatureStorage.load(directory: path)
        #expect(storage.usesSigstoreAttachments(for: try ImageReference(parsing: "registry.example/team/app:v1")))
        #expect(!storage.usesSigstoreAttachments(for: try ImageReference(parsing: "registry.example/team/app:v2")))
        #expect(!storage.usesSigstoreAttachments(for: try ImageReference(parsing: "other.example/app:v1")))
        #expect(storage.lookaside(for: try ImageReference(parsing: "registry.example/team/app:v1")) == "file:///var/lib/sigs/team/app")
        #expect(storage.lookaside(for: try ImageReference(parsing: "other.example/x/y")) == "https://sigs.example/store/x/y")
    }

    @Test func aScopeGivenTwiceNamesBothFiles() throws {
        let path = try directory(["a.yaml": "docker:\n  h.example:\n    use-sigstore-attachments: true\n", "b.yaml": "docker:\n  h.example: {}\n"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(
            throws: TrustPolicyError.invalidRegistriesDirectory(
                source: "\(path)/b.yaml", reason: "docker scope \"h.example\" is given in \(path)/a.yaml already")
        ) { try SignatureStorage.load(directory: path) }
    }

    @Test func mistakesAreRefusedNotIgnored() throws {
        let cases = [
            "docker:\n  h.example:\n    use-sigstore-attachment: true\n",
            "docker:\n  h.example:\n    use-sigstore-attachments: yes please\n",
            "default-docker:\n  lookaside: ftp://x/\n",
            "defaults-docker: {}\n",
            "docker: [1, 2]\n",
            "docker:\n  h.example: {lookaside: [1]}\n",
            "{{{",
            "docker:\n  h.example: {}\n  h.example: {}\n",
            "docker:\n  [a, b]: {}\n",
            "? [x]\n: 1\n",
            String(repeating: "[", count: 100_000),
        ]
        for text in cases {
            #expect(throws: TrustPolicyError.self, "\(text)") { try SignatureStorage(parsing: Data(text.utf8), source: "x.yaml") }
        }
        #expect(try SignatureStorage(parsing: Data(), source: "empty.yaml") == SignatureStorage())
    }

    @Test func aMissingDirectoryIsNoConfiguration() throws {
        #expect(try SignatureStorage.load(directory: "/nonexistent/registries.d") == SignatureStorage())
    }
}
