import Foundation
import FuzzTargets
import Testing

/// Every input in `Tests/Fixtures/fuzz/TARGET/` (the fuzzers' seeds, and each crash a fuzzer
/// ever found, kept as a regression) goes through its target again: none may trap.
@Suite struct CorpusReplayTests {
    static let corpora = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz").path

    @Test(arguments: FuzzTarget.allCases)
    func replaysTheCorpus(target: FuzzTarget) throws {
        let directory = "\(Self.corpora)/\(target.rawValue)"
        let inputs = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(!inputs.isEmpty, "no seeds for \(target.rawValue)")
        for input in inputs {
            target.run(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(input)")))
        }
    }

    @Test func everyTargetHasACorpusDirectory() throws {
        let directories = Set(try FileManager.default.contentsOfDirectory(atPath: Self.corpora))
        #expect(directories == Set(FuzzTarget.allCases.map(\.rawValue)))
    }
}
