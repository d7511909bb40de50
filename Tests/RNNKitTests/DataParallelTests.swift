import Foundation
import Testing

@testable import RNNKit

// Data-parallel training without MPI: the ranks of `InProcessGroup` are
// threads of this process with their own models and trainers, joined by the
// public `Communicator` protocol. The same runs go through Open MPI in
// Tests/mpi.sh.

/// The ranks of a data-parallel run as threads: collectives meet at a barrier,
/// read each other's published buffers, and meet again before anyone reuses them.
final class InProcessGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    /// What each rank offers in the current collective: its bytes and, for
    /// an exchange, how many go to each rank.
    private var published: [(bytes: UnsafeRawBufferPointer, counts: [Int])]

    init(size: Int) {
        self.size = size
        published = Array(repeating: (UnsafeRawBufferPointer(start: nil, count: 0), []), count: size)
    }

    private func barrier() {
        condition.lock()
        defer { condition.unlock() }
        let current = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == current { condition.wait() }
        }
    }

    /// Publishes `bytes`, lets `read` copy from every rank's publication, then waits for all readers.
    func collective(
        rank: Int, bytes: UnsafeRawBufferPointer, counts: [Int],
        read: ([(bytes: UnsafeRawBufferPointer, counts: [Int])]) -> Void
    ) {
        published[rank] = (bytes, counts)
        barrier()
        read(published)
        barrier()
    }

    final class Member: Communicator, @unchecked Sendable {
        let group: InProcessGroup
        let rank: Int
        var size: Int { group.size }
        init(group: InProcessGroup, rank: Int) {
            self.group = group
            self.rank = rank
        }

        func exchange(
            sending: UnsafeRawBufferPointer, sendCounts: [Int], receiving: UnsafeMutableRawBufferPointer,
            receiveCounts: [Int]
        ) {
            group.collective(rank: rank, bytes: sending, counts: sendCounts) { all in
                var offset = 0
                for (source, part) in all.enumerated() {
                    let start = part.counts[..<rank].reduce(0, +)
                    precondition(part.counts[rank] == receiveCounts[source], "mismatched exchange counts")
                    UnsafeMutableRawBufferPointer(rebasing: receiving[offset..<offset + receiveCounts[source]])
                        .copyMemory(
                            from: UnsafeRawBufferPointer(rebasing: part.bytes[start..<start + part.counts[rank]]))
                    offset += receiveCounts[source]
                }
            }
        }

        func allGather(sending: UnsafeRawBufferPointer, receiving: UnsafeMutableRawBufferPointer, counts: [Int]) {
            group.collective(rank: rank, bytes: sending, counts: counts) { all in
                var offset = 0
                for (source, part) in all.enumerated() {
                    precondition(part.bytes.count == counts[source], "mismatched gather counts")
                    UnsafeMutableRawBufferPointer(rebasing: receiving[offset..<offset + counts[source]])
                        .copyMemory(from: part.bytes)
                    offset += counts[source]
                }
            }
        }

        func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {
            group.collective(rank: rank, bytes: UnsafeRawBufferPointer(buffer), counts: []) { all in
                if rank != root { buffer.copyMemory(from: all[root].bytes) }
            }
        }
    }

    /// Runs `body` once per rank, each on its own thread, and returns their results in rank order.
    static func run<T: Sendable>(ranks: Int, _ body: @escaping @Sendable (any Communicator) throws -> T) throws -> [T] {
        let group = InProcessGroup(size: ranks)
        let results = Results<T>(count: ranks)
        let threads = (0..<ranks).map { rank in
            Thread {
                results.set(rank, Result { try body(Member(group: group, rank: rank)) })
            }
        }
        for thread in threads {
            thread.stackSize = 8 << 20
            thread.start()
        }
        return try results.wait().map { try $0.get() }
    }

    private final class Results<T>: @unchecked Sendable {
        private let condition = NSCondition()
        private var values: [Result<T, any Error>?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: Result<T, any Error>) {
            condition.lock()
            values[index] = value
            condition.broadcast()
            condition.unlock()
        }
        func wait() -> [Result<T, any Error>] {
            condition.lock()
            defer { condition.unlock() }
            while values.contains(where: { $0 == nil }) { condition.wait() }
            return values.map { $0! }
        }
    }
}

/// 150 sequences of 3 to 9 steps: mini-batches of 100 are 4 shards, then the
/// epoch's last 50 are 2, so with 3 ranks one runs no shard at all.
private func sequences(_ configuration: ModelConfiguration, seed: UInt64 = 11) -> SequenceBatch {
    var generator = SeededGenerator(seed: seed)
    let count = 150, steps = 9
    let inputs: SequenceBatch.Inputs
    switch configuration.input {
    case .dense(let features):
        inputs = .features((0..<count * steps * features).map { _ in generator.uniform(-1, 1) })
    case .embedding(let vocabulary, _), .oneHot(let vocabulary):
        inputs = .tokens((0..<count * steps).map { _ in Int32(generator.next() % UInt64(vocabulary)) })
    }
    let classes = configuration.outputSize
    return SequenceBatch(
        count: count, timeSteps: steps, inputs: inputs, lengths: (0..<count).map { Int32(3 + $0 % 7) },
        targets: .classes((0..<count).map { _ in Int32(generator.next() % UInt64(classes)) }))
}

private func settings(steps: Int, communicator: any Communicator = SingleProcess()) -> TrainingRun.Settings {
    TrainingRun.Settings(
        optimizer: .adam(learningRate: 5e-3), clipping: .norm(1), batchSize: 100, seed: 4, steps: steps, threads: 1,
        communicator: communicator)
}

private let cells: [(CellKind, InputEncoding)] = [
    (.lstm, .dense(features: 5)), (.gru, .embedding(vocabularySize: 7, dimension: 4)), (.rnnTanh, .dense(features: 5)),
    (.rnnReLU, .dense(features: 5)), (.layerNormLSTM, .dense(features: 5))
]

@Test(
    "Weights after a run are the same bits for 1 to 4 processes, for every cell",
    arguments: cells)
func dataParallelRunsMatchOneProcess(cell: CellKind, input: InputEncoding) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: input, hiddenSize: 12, layers: 2, bidirectional: cell == .gru, outputSize: 3,
        topology: .manyToOne)
    let data = sequences(configuration)
    let alone = try Model(configuration, seed: 2)
    let aloneSummary = try TrainingRun(settings: settings(steps: 5), batch: data).run(model: alone)
    for ranks in [2, 3, 4] {
        let results = try InProcessGroup.run(ranks: ranks) { communicator in
            let model = try Model(configuration, seed: 2)
            let summary = try TrainingRun(settings: settings(steps: 5, communicator: communicator), batch: data)
                .run(model: model)
            return (weights(model), summary.trainingCurve.map(\.loss))
        }
        for (rank, result) in results.enumerated() {
            let sameWeights = result.0 == weights(alone)
            let sameLosses = result.1 == aloneSummary.trainingCurve.map(\.loss)
            #expect(sameWeights, "weights of rank \(rank) of \(ranks)")
            #expect(sameLosses, "losses of rank \(rank) of \(ranks)")
        }
    }
}

@Test func aRunResumedWithAnotherProcessCountKeepsTheBits() throws {
    let configuration = ModelConfiguration(
        cell: .lstm, input: .dense(features: 5), hiddenSize: 10, outputSize: 3, topology: .manyToOne)
    let data = sequences(configuration)
    let straight = try Model(configuration, seed: 3)
    _ = try TrainingRun(settings: settings(steps: 7), batch: data).run(model: straight)

    let url = FileManager.default.temporaryDirectory.appendingPathComponent("parallel-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    _ = try InProcessGroup.run(ranks: 3) { communicator in
        var first = settings(steps: 4, communicator: communicator)
        first.checkpointing = .init(url: url, everySteps: 4)
        return try TrainingRun(settings: first, batch: data).run(model: try Model(configuration, seed: 3)).steps
    }
    let checkpoint = try Checkpoint(contentsOf: url)
    #expect(checkpoint.progress["step"] == "4")
    let resumed = try InProcessGroup.run(ranks: 2) { communicator in
        var second = settings(steps: 7, communicator: communicator)
        second.checkpointing = .init(url: url, resume: checkpoint)
        let model = try checkpoint.model()
        _ = try TrainingRun(settings: second, batch: data).run(model: model)
        return weights(model)
    }
    let same = resumed.map { $0 == weights(straight) }
    #expect(same == [true, true])
}

@Test func accumulationAcrossProcessesKeepsTheBitsOfOneLargeBatch() throws {
    let configuration = ModelConfiguration(
        cell: .gru, input: .dense(features: 5), hiddenSize: 10, outputSize: 3, topology: .manyToOne)
    let data = sequences(configuration)
    var large = settings(steps: 4)
    large.batchSize = 128
    let alone = try Model(configuration, seed: 6)
    _ = try TrainingRun(settings: large, batch: data).run(model: alone)
    let results = try InProcessGroup.run(ranks: 3) { communicator in
        var accumulated = settings(steps: 4, communicator: communicator)
        (accumulated.batchSize, accumulated.accumulation) = (32, 4)
        let model = try Model(configuration, seed: 6)
        _ = try TrainingRun(settings: accumulated, batch: data).run(model: model)
        return weights(model)
    }
    let same = results.map { $0 == weights(alone) }
    #expect(same == [true, true, true])
}

@Test func theSharesCutIntoAlignedSubtreesOfTheReductionTree() {
    for shardCount in 1...40 {
        for ranks in 1...9 {
            let plan = GradientSum.Plan(shardCount: shardCount, ranks: ranks, count: 1000)
            #expect(plan.shares.map(\.count).reduce(0, +) == shardCount)
            #expect(plan.chunks.first?.lowerBound == 0 && plan.chunks.last?.upperBound == 1000)
            for (share, nodes) in zip(plan.shares, plan.nodes) {
                #expect(nodes.map(\.count).reduce(0, +) == share.count)
                #expect(nodes.first?.lowerBound ?? share.lowerBound == share.lowerBound)
                for node in nodes {
                    // A node of the tree: 2^k shards from a multiple of 2^k, cut only by the shard count.
                    var size = 1
                    while size < node.count { size *= 2 }
                    #expect(node.lowerBound % size == 0, "\(node) of \(shardCount) shards")
                    #expect(node.upperBound == min(node.lowerBound + size, shardCount))
                }
            }
        }
    }
    // An even split keeps one node per rank.
    #expect(GradientSum.Plan(shardCount: 8, ranks: 4, count: 64).nodes == [[0..<2], [2..<4], [4..<6], [6..<8]])
}
