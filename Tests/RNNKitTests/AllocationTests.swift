import AllocationCounter
import Foundation
import Testing
@testable import RNNKit

/// A steady-state training step must not touch the heap: every buffer is
/// allocated once per shape. The counter sees every thread's malloc calls, so
/// the measurements run in a child process of this test runner where no other
/// test runs alongside.
@Test(.enabled(if: allocationCountingWorks))
func steadyStateTrainingStepAllocatesNothing() throws {
    let (status, log) = try runTestsInChildProcess(
        filter: "allocationProbe",
        environment: ["RNNKIT_ALLOCATION_PROBE": "1"])
    #expect(status == 0, "\(log)")
    #expect(log.contains("allocationProbe") && log.contains("passed"), "\(log)")
}

/// The measurements, run alone in the child and one after another: the
/// counter counts every thread's allocations.
@Test(.enabled(if: ProcessInfo.processInfo.environment["RNNKIT_ALLOCATION_PROBE"] != nil))
func allocationProbe() throws {
    countsWorkerThreads()
    try trainingStepsAllocateNothing()
    try streamingStepsAllocateNothing()
    try aModelFileClaimingAHugeModelIsRefusedBeforeAllocating()
}

/// Every cell and input kind, and the topologies with code of their own
/// (many-to-one's head, an encoder-decoder's two stacks), each trained on one
/// thread and on Dispatch's threads (where only libdispatch itself may allocate): 70 rows make three shards, so two or
/// three threads run whole shards, and 8 rows make one shard whose steps a
/// team of three splits.
private func trainingStepsAllocateNothing() throws {
    var configurations: [ModelConfiguration] = []
    for cell in CellKind.allCases {
        configurations += [
            ModelConfiguration(
                cell: cell, input: .dense(features: 4), hiddenSize: 16, layers: 2,
                bidirectional: true, outputSize: 3, topology: .manyToMany),
            ModelConfiguration(
                cell: cell, input: .oneHot(vocabularySize: 9), hiddenSize: 40, outputSize: 9,
                topology: .manyToMany),
            ModelConfiguration(
                cell: cell, input: .embedding(vocabularySize: 11, dimension: 5), hiddenSize: 33,
                bidirectional: true, outputSize: 4, topology: .manyToOne),
            ModelConfiguration(
                cell: cell, input: .dense(features: 3), hiddenSize: 20, layers: 2, outputSize: 3,
                topology: .encoderDecoder)
        ]
    }
    // Dropout's masks and the projections' buffers, on a stack that has both.
    configurations.append(
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 4), hiddenSize: 24, layers: 2, bidirectional: true, outputSize: 3,
            topology: .manyToMany, dropout: 0.3, projectionSize: 10))
    for configuration in configurations {
        var factory = BatchFactory(seed: 2)
        let encoderDecoder = configuration.topology == .encoderDecoder
        let batch = factory.batch(
            for: configuration, count: 80, timeSteps: 6, variableLengths: !encoderDecoder,
            decoderTimeSteps: encoderDecoder ? 4 : 0, classes: configuration.input.readsTokens)
        for (threads, rows) in [(1, Array(0..<70)), (2, Array(0..<70)), (3, Array(0..<70)), (3, Array(0..<8))] {
            let model = try Model(configuration, seed: 1)
            let trainer = Trainer(
                model: model, optimizer: .adam(learningRate: 1e-3), clipping: .norm(1), threads: threads)
            let (rnnkit, dispatch) = try steadyStateAllocations { try trainer.step(batch, rows: rows) }
            #expect(rnnkit == 0, "\(rnnkit) heap allocations in 10 steps of \(configuration) on \(threads) threads")
            // Linux's dispatch_apply takes a continuation per worker from the
            // calling thread's cache, and the workers free them into their
            // own, so the caller's cache drains and most calls allocate one or
            // two (at most 2 per step measured): libdispatch's bookkeeping, never RNNKit's.
            #expect(dispatch <= 10 * 3, "\(dispatch) allocations by libdispatch in 10 steps on \(threads) threads")
            if threads == 1 { #expect(dispatch == 0, "one thread runs its shards without Dispatch") }
        }
    }
}

/// A step runner's steps, with their inputs and outputs in reused arrays,
/// for a character model, a stacked projected LSTM on features, and a GRU
/// over an embedding, with one stream and with several.
private func streamingStepsAllocateNothing() throws {
    let configurations = [
        ModelConfiguration(
            cell: .lstm, input: .oneHot(vocabularySize: 65), hiddenSize: 64, outputSize: 65,
            topology: .manyToMany),
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 5), hiddenSize: 24, layers: 2, outputSize: 3,
            topology: .manyToMany, projectionSize: 10),
        ModelConfiguration(
            cell: .gru, input: .embedding(vocabularySize: 11, dimension: 5), hiddenSize: 16,
            outputSize: 4, topology: .manyToOne),
        ModelConfiguration(
            cell: .layerNormLSTM, input: .dense(features: 3), hiddenSize: 16, outputSize: 2,
            topology: .manyToMany)
    ]
    for configuration in configurations {
        for streams in [1, 4] {
            let runner = try StepRunner(model: try Model(configuration, seed: 1), count: streams)
            let inputs: SequenceBatch.Inputs =
                configuration.input.readsTokens
                ? .tokens((0..<streams).map { Int32($0 % 3) })
                : .features([Float](repeating: 0.5, count: streams * configuration.input.rnnInputSize))
            var outputs = [Float](repeating: 0, count: streams * configuration.outputSize)
            let (rnnkit, _) = try steadyStateAllocations { try runner.step(inputs, into: &outputs) }
            #expect(rnnkit == 0, "\(rnnkit) heap allocations in 10 steps of \(configuration), \(streams) streams")
        }
    }
}

/// The heap allocations `step` makes ten times over, by RNNKit (and the Swift
/// runtime on its behalf) and by libdispatch, in the quietest of five
/// windows, after warming up: the first steps size the buffers, and Dispatch
/// starts its worker threads. Transient allocations outside the step (the test
/// runner reporting) can land in one window; a step that allocates lands in
/// all of them. The call stacks of the last window's first allocations go to
/// stderr when RNNKit allocated.
private func steadyStateAllocations(_ step: () throws -> Void) rethrows -> (rnnkit: UInt64, dispatch: UInt64) {
    for _ in 0..<20 { try step() }
    var fewest = (rnnkit: UInt64.max, dispatch: UInt64.max)
    for _ in 0..<5 where fewest.rnnkit > 0 {
        allocation_counter_start()
        for _ in 0..<10 { try step() }
        let counted = allocation_counter_stop()
        let outsideDispatch = allocation_counter_made_outside("libdispatch")
        if outsideDispatch < fewest.rnnkit { fewest = (outsideDispatch, counted - outsideDispatch) }
    }
    if fewest.rnnkit > 0 { allocation_counter_print_callers() }
    return fewest
}

/// The probe can fail: work that allocates once per shard, run by the
/// scheduler on Dispatch's threads, is counted as RNNKit's.
private func countsWorkerThreads() {
    let scheduler = ShardScheduler(threads: 3, kernels: .current)
    let job = AllocatingShards()
    let allocations = steadyStateAllocations { scheduler.forEachShard(3, job) }
    #expect(allocations.rnnkit >= 30, "\(allocations.rnnkit) allocations counted in 10 runs of 3 allocating shards")
}

private final class AllocatingShards: ShardJob, @unchecked Sendable {
    func runShard(_ shard: Int, team: WorkerTeam) {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 100 + shard)
        buffer.initialize(to: 1)
        buffer.deallocate()
    }
}

/// A model file whose metadata claims a model of gigabytes but holds small
/// tensors is refused before the parameters are allocated: loading never
/// allocates more than the file holds.
private func aModelFileClaimingAHugeModelIsRefusedBeforeAllocating() throws {
    let model = try Model(
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 3), hiddenSize: 4, layers: 2,
            bidirectional: true, outputSize: 2, topology: .manyToMany), seed: 1)
    var file = model.safetensors()
    // 128 million parameters, 512 MiB of floats: within the limit.
    file.metadata["hidden_size"] = "2000"
    allocation_counter_start()
    #expect(throws: ModelError.self) { try Model(file: file) }
    _ = allocation_counter_stop()
    #expect(allocation_counter_largest() < 1 << 20, "loading allocated \(allocation_counter_largest()) bytes at once")
}

/// Whether the interposed allocator is in this process (glibc only).
let allocationCountingWorks: Bool = {
    allocation_counter_start()
    let probe = [Int](repeating: 1, count: 1000)
    let counted = allocation_counter_stop()
    return probe.count == 1000 && counted > 0 && counted != UInt64.max
}()
