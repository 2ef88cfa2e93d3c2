import FuzzTargets
import Foundation

// libFuzzer's driver for the target named by MBCTL_FUZZ_TARGET (see scripts/fuzz).
//
// SwiftPM renames an executable's entry point to `mbctl_fuzz_main` (and points `main` at it),
// so this is where the process starts; it hands over to libFuzzer's own driver, which
// `-sanitize=fuzzer` links in.

@_silgen_name("LLVMFuzzerRunDriver")
private func runLibFuzzer(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

private nonisolated(unsafe) var selected: FuzzTarget = .reference

@_cdecl("mbctl_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let name = ProcessInfo.processInfo.environment["MBCTL_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("set MBCTL_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: " "))\n".utf8))
        return 2
    }
    selected = target
    var count = argc
    var arguments = argv
    return runLibFuzzer(&count, &arguments) { bytes, size in
        selected.run(bytes.map { Data(bytes: $0, count: size) } ?? Data())
        return 0
    }
}
