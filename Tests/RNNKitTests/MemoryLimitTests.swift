import Testing
@testable import RNNKit

/// A shape that cannot fit is refused from an estimate, before allocating.
@Test func oversizedBatchShapeIsRefusedBeforeAllocating() throws {
    let model = try Model(ModelConfiguration(cell: .lstm, input: .dense(features: 8), hiddenSize: 512,
                                             outputSize: 4, topology: .manyToMany), seed: 0)
    let engine = Engine(model: model, threads: 1, withGradients: true)
    #expect {
        try engine.reserve(rows: 100_000, timeSteps: 10_000, decoderTimeSteps: 0)
    } throws: { error in
        guard case ModelError.tooLarge(let message) = error else { return false }
        return message.contains("GiB") && message.contains("smaller batch")
    }
    #expect(engine.shards.isEmpty)
}

@Test func oversizedModelIsRefused() {
    #expect(throws: ModelError.self) {
        try Model(ModelConfiguration(cell: .lstm, input: .dense(features: 8), hiddenSize: 30_000, layers: 2,
                                     outputSize: 4, topology: .manyToMany))
    }
}

/// This machine runs the kernels, so the processor check must let it through.
@Test func processorCheckPassesWhereTheKernelsRun() throws {
    try Model.checkProcessor()
}
