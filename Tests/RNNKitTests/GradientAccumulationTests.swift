import Foundation
import Testing

@testable import RNNKit
@testable import RNNKernels

// Gradient accumulation: a step over K micro-batches has the bits of one
// step over a mini-batch K times as large, because the micro-batches' shard
// sums meet in the same reduction tree (`SubtreeSums`).

@Test func subtreeSumsFinishTheTreeOfOnePass() {
    let kernels = Kernels.current
    let count = 37
    for shardCount in 1...19 {
        var generator = SeededGenerator(seed: UInt64(shardCount))
        let buffers = (0..<shardCount).map { _ in
            let buffer = AlignedBuffer(count: count)
            for index in 0..<count { buffer.baseAddress[index] = generator.uniform(-1, 1) * 1e3 }
            return buffer
        }
        let expected = AlignedBuffer(count: count)
        let copies = buffers.map { source in
            let copy = AlignedBuffer(count: count)
            copy.baseAddress.update(from: source.baseAddress, count: count)
            return copy
        }
        var pointers = copies.map(\.baseAddress)
        kernels.treeReduce(&pointers, count: shardCount, range: 0..<count)
        expected.baseAddress.update(from: pointers[0], count: count)

        for microShards in 1...shardCount {
            let sums = SubtreeSums(count: count, kernels: kernels)
            sums.reset(shardCount: shardCount)
            for first in stride(from: 0, to: shardCount, by: microShards) {
                let shards = first..<min(first + microShards, shardCount)
                let local = buffers[shards].map { source in
                    let copy = AlignedBuffer(count: count)
                    copy.baseAddress.update(from: source.baseAddress, count: count)
                    return copy
                }
                for node in ReductionTree.subtrees(of: shards, shardCount: shardCount) {
                    var nodePointers = local[(node.lowerBound - first)..<(node.upperBound - first)].map(\.baseAddress)
                    kernels.treeReduce(&nodePointers, count: node.count, range: 0..<count)
                    sums.add(node, sum: nodePointers[0])
                }
                #expect(sums.nodes.count <= 2 + shardCount.bitWidth - shardCount.leadingZeroBitCount)
            }
            let result = Array(UnsafeBufferPointer(start: sums.finish(), count: count))
            let same = result == Array(expected.buffer)
            #expect(same, "\(shardCount) shards in micro-batches of \(microShards)")
        }
    }
}

private let configuration = ModelConfiguration(
    cell: .gru, input: .dense(features: 4), hiddenSize: 10, layers: 2, outputSize: 2, topology: .manyToMany)

/// 200 sequences of 2 to 12 steps with a target per step.
private func sequences() -> SequenceBatch {
    var generator = SeededGenerator(seed: 21)
    let count = 200, steps = 12
    return SequenceBatch(
        count: count, timeSteps: steps,
        inputs: .features((0..<count * steps * 4).map { _ in generator.uniform(-1, 1) }),
        lengths: (0..<count).map { Int32(2 + $0 % 11) },
        targets: .values((0..<count * steps * 2).map { _ in generator.uniform(-1, 1) }))
}

private func trained(batchSize: Int, accumulation: Int, communicator: any Communicator = SingleProcess()) throws
    -> [[Float]]
{
    let model = try Model(configuration, seed: 8)
    let settings = TrainingRun.Settings(
        optimizer: .adam(learningRate: 1e-2), clipping: .norm(1), batchSize: batchSize, accumulation: accumulation,
        seed: 2, steps: 6, threads: 2, communicator: communicator)
    _ = try TrainingRun(settings: settings, batch: sequences()).run(model: model)
    return model.parameterNames.map { model.parameter($0)! }
}

@Test(
    "Accumulating K micro-batches gives the bits of one mini-batch K times as large",
    arguments: [(32, 4), (64, 3), (100, 2), (50, 3)])
func accumulationMatchesOneLargeBatch(batchSize: Int, accumulation: Int) throws {
    let large = try trained(batchSize: batchSize * accumulation, accumulation: 1)
    let accumulated = try trained(batchSize: batchSize, accumulation: accumulation)
    let same = accumulated == large
    #expect(same)
}

@Test func aStepOverMicroBatchesHoldsOneMicroBatchsShards() throws {
    let model = try Model(configuration, seed: 8)
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0.1), threads: 1)
    let report = try trainer.step(sequences(), microBatch: 64)
    #expect(report.loss.isFinite && !report.skipped)
    #expect(trainer.shardWorkspaceCount == 2)
}
