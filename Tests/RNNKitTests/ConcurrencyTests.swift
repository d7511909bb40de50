import Dispatch
import Foundation
import RNNKernels
import Testing
@testable import RNNKit

/// Separate models trained from separate threads at once reach exactly the
/// weights they reach when trained alone.
@Test func separateModelsTrainConcurrently() throws {
    let configurations = [
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 3), hiddenSize: 12, layers: 2, outputSize: 2, topology: .manyToMany),
        ModelConfiguration(
            cell: .gru, input: .dense(features: 3), hiddenSize: 9, bidirectional: true, outputSize: 2,
            topology: .manyToOne)
    ]
    var factory = BatchFactory(seed: 8)
    var made: [SequenceBatch] = []
    for configuration in configurations {
        made.append(factory.batch(for: configuration, count: 70, timeSteps: 5, variableLengths: true))
    }
    let batches = made

    @Sendable func train(_ index: Int) throws -> [UInt32] {
        let model = try Model(configurations[index], seed: UInt64(index))
        let trainer = Trainer(model: model, optimizer: .adam(learningRate: 1e-2), threads: 2)
        for _ in 0..<5 { try trainer.step(batches[index]) }
        return model.parameterNames.flatMap { model.parameter($0)!.map(\.bitPattern) }
    }

    let alone = try (0..<2).map(train)
    let together = UnsafeMutableBufferPointer<[UInt32]>.allocate(capacity: 2)
    together.initialize(repeating: [])
    defer { together.deallocate() }
    let results = UncheckedSendable(together)
    DispatchQueue.concurrentPerform(iterations: 2) { index in
        results.value[index] = (try? train(index)) ?? []
    }
    #expect(Array(together) == alone)
}

/// Hands the workers a buffer they write in disjoint slots.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A thread whose team has run out of shards helps the teams still running:
/// with two threads and two shards, the thread that finishes the short shard
/// computes parts of the long one's regions.
@Test func finishedThreadsHelpTheTeamsStillRunning() {
    let scheduler = ShardScheduler(threads: 2, kernels: .current)
    let job = UnevenShards()
    scheduler.forEachShard(2, job)
    let (shortFinishedFirst, helped) = job.outcome
    // Dispatch may run the two workers one after the other; only when the
    // short shard finished while the long one ran could anyone have helped.
    #expect(!shortFinishedFirst || helped)
}

/// Shard 1 returns at once; shard 0 publishes small regions until a part
/// of one is computed by another thread than its lead, or until it is clear
/// that no other thread is coming.
private final class UnevenShards: ShardJob, PartJob, @unchecked Sendable {
    private let lock = NSLock()
    private var shortFinished = false
    private var shortFinishedFirst = false
    private var helped = false
    private var leadScratch: ObjectIdentifier?

    var outcome: (shortFinishedFirst: Bool, helped: Bool) { lock.withLock { (shortFinishedFirst, helped) } }

    func runShard(_ shard: Int, team: WorkerTeam) {
        guard shard == 0 else {
            lock.withLock { shortFinished = true }
            return
        }
        // Shard 1 finishing while this loop runs means another thread ran
        // it, and that thread is now free to help.
        let finishedBefore = lock.withLock {
            leadScratch = ObjectIdentifier(team.scratch)
            return shortFinished
        }
        let clock = ContinuousClock()
        var waitingSince: ContinuousClock.Instant?
        for region in 0... {
            team.forEachPart(of: 64, granule: 16, self)
            let (finished, helped) = lock.withLock { (shortFinished, self.helped) }
            if helped { break }
            if finished && !finishedBefore {
                // Give that thread ample time to arrive, however loaded the machine.
                if waitingSince == nil { waitingSince = clock.now }
                if clock.now - waitingSince! > .seconds(30) { break }
            } else if region >= 100_000 {
                break
            }
        }
        lock.withLock { shortFinishedFirst = waitingSince != nil }
    }

    func runPart(_ part: Range<Int>, scratch: GEMMScratch) {
        lock.withLock { if ObjectIdentifier(scratch) != leadScratch { helped = true } }
    }
}
