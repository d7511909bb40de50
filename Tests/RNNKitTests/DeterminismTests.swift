import Testing
@testable import RNNKit

/// Weights after training must be bit-identical for every thread count.
@Test(arguments: CellKind.allCases)
func trainingIsIndependentOfThreadCount(_ cell: CellKind) throws {
    let configuration = ModelConfiguration(cell: cell, input: .dense(features: 5), hiddenSize: 19, layers: 2,
                                           bidirectional: true, outputSize: 3, topology: .manyToMany)
    var factory = BatchFactory(seed: 5)
    // 100 rows: four shards, the last one partial.
    let batch = factory.batch(for: configuration, count: 100, timeSteps: 7, variableLengths: true)
    var results: [[Float]] = []
    for threads in [1, 2, 3] {
        let model = try Model(configuration, seed: 1)
        let trainer = Trainer(model: model, optimizer: .adam(learningRate: 1e-2), clipping: .norm(0.5), threads: threads)
        for _ in 0..<3 { try trainer.step(batch) }
        results.append(model.parameterNames.flatMap { model.parameter($0)! })
    }
    #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern))
    #expect(results[0].map(\.bitPattern) == results[2].map(\.bitPattern))
}
