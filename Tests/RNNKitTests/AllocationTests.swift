import AllocationCounter
import Foundation
import Testing
@testable import RNNKit

/// A steady-state training step must not touch the heap: every buffer is
/// allocated once per shape. The counter sees every thread's malloc calls, so
/// the measurement runs in a child process of this test runner where no other
/// test runs alongside.
@Test(.enabled(if: allocationCountingWorks))
func steadyStateTrainingStepAllocatesNothing() throws {
    let runner = Process()
    runner.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    runner.arguments = ["--testing-library", "swift-testing", "--filter", "allocationProbe"]
    runner.environment = ProcessInfo.processInfo.environment.merging(["RNNKIT_ALLOCATION_PROBE": "1"]) { $1 }
    let output = Pipe()
    runner.standardOutput = output
    runner.standardError = output
    try runner.run()
    let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    runner.waitUntilExit()
    #expect(runner.terminationStatus == 0, "\(log)")
    #expect(log.contains("allocationProbe") && log.contains("passed"), "\(log)")
}

/// The measurement, run alone in the child: one test, the cells in turn.
@Test(.enabled(if: ProcessInfo.processInfo.environment["RNNKIT_ALLOCATION_PROBE"] != nil))
func allocationProbe() throws {
    for cell in CellKind.allCases {
        let configuration = ModelConfiguration(cell: cell, input: .dense(features: 4), hiddenSize: 16, layers: 2,
                                               bidirectional: true, outputSize: 3, topology: .manyToMany)
        let model = try Model(configuration, seed: 1)
        var factory = BatchFactory(seed: 2)
        let batch = factory.batch(for: configuration, count: 80, timeSteps: 6, variableLengths: true)
        let rows = Array(0..<70)
        // One thread: the scheduler then runs the shards itself. With more,
        // libdispatch's apply occasionally allocates for its own thread pool,
        // which says nothing about RNNKit's step.
        let trainer = Trainer(model: model, optimizer: .adam(learningRate: 1e-3), clipping: .norm(1), threads: 1)
        for _ in 0..<3 { try trainer.step(batch, rows: rows) }
        // Transient allocations outside the step (the test runner reporting)
        // can land in one window; a step that allocates lands in all of them.
        var allocations = UInt64.max
        for _ in 0..<5 where allocations > 0 {
            allocation_counter_start()
            for _ in 0..<10 { try trainer.step(batch, rows: rows) }
            allocations = min(allocations, allocation_counter_stop())
        }
        #expect(allocations == 0, "\(allocations) heap allocations in 10 steps of a \(cell.rawValue) model")
    }
}

/// Whether the interposed allocator is in this process (glibc only).
let allocationCountingWorks: Bool = {
    allocation_counter_start()
    let probe = [Int](repeating: 1, count: 1000)
    let counted = allocation_counter_stop()
    return probe.count == 1000 && counted > 0 && counted != UInt64.max
}()
