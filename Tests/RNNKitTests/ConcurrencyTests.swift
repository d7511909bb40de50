import Dispatch
import Testing
@testable import RNNKit

/// Separate models trained from separate threads at once reach exactly the
/// weights they reach when trained alone.
@Test func separateModelsTrainConcurrently() throws {
    let configurations = [
        ModelConfiguration(cell: .lstm, input: .dense(features: 3), hiddenSize: 12, layers: 2, outputSize: 2, topology: .manyToMany),
        ModelConfiguration(cell: .gru, input: .dense(features: 3), hiddenSize: 9, bidirectional: true, outputSize: 2, topology: .manyToOne),
    ]
    var factory = BatchFactory(seed: 8)
    var made: [SequenceBatch] = []
    for configuration in configurations { made.append(factory.batch(for: configuration, count: 70, timeSteps: 5, variableLengths: true)) }
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
