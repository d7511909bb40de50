import Foundation
import Testing
import RNNKernels
@testable import RNNKit

/// The kernel variants this machine runs other than the one this process
/// uses: each instruction set the CPU can execute, with the kernels generated
/// per hidden size and with the generic ones only. Empty inside such a child.
let otherKernelSelections: [KernelSelection] = {
    guard ProcessInfo.processInfo.environment["RNNKIT_ISA"] == nil else { return [] }
    return KernelSelection.runnableInstructionSets
        .flatMap {
            [KernelSelection(instructionSet: $0), KernelSelection(instructionSet: $0, usesSpecializedKernels: false)]
        }
        .filter { $0 != KernelSelection.current }
}()

/// The model-level PyTorch references (small and at scale) pass on every
/// variant, not only the default one: each runs in a child process of this
/// test runner with `RNNKIT_ISA` and `RNNKIT_KERNELS` set, which is how users
/// choose a variant, so that every thread of every engine runs it.
@Test(.enabled(if: !otherKernelSelections.isEmpty), arguments: otherKernelSelections)
func goldenReferencesPassOnEveryVariant(_ selection: KernelSelection) throws {
    let environment = [
        "RNNKIT_ISA": selection.instructionSet.rawValue,
        "RNNKIT_KERNELS": selection.usesSpecializedKernels ? "specialized" : "generic"
    ]
    let (status, log) = try runTestsInChildProcess(filter: "matchesPyTorch", environment: environment)
    let expectedCases = Golden.caseNames.count + ScaleGolden.caseNames.count
    #expect(status == 0, "\(selection): \(log.suffix(4000))")
    // swift-testing's summary line per test: "✔ Test matchesPyTorch(_:) with 91 test cases passed after ...".
    let passedCases = log.split(separator: "\n").filter { $0.contains("matchesPyTorch") }.compactMap { line in
        line.firstMatch(of: /with (\d+) test cases passed/).flatMap { Int($0.1) }
    }.reduce(0, +)
    #expect(passedCases == expectedCases, "\(selection): \(passedCases) of \(expectedCases) cases reported passing")
}

/// Runs the tests whose names match `filter` in a child process of this test
/// runner (alone, so that process-wide settings and counters see only them)
/// and returns its exit status and output.
func runTestsInChildProcess(filter: String, environment: [String: String]) throws -> (status: Int32, log: String) {
    let runner = Process()
    runner.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    runner.arguments = ["--testing-library", "swift-testing", "--filter", filter]
    runner.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    runner.standardOutput = output
    runner.standardError = output
    try runner.run()
    let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    runner.waitUntilExit()
    return (runner.terminationStatus, log)
}
