import Testing
import RNNKernels
@testable import RNNKit

/// A shape that cannot fit is refused from an estimate, before allocating.
@Test func oversizedBatchShapeIsRefusedBeforeAllocating() throws {
    let model = try Model(
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 8), hiddenSize: 512,
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
        try Model(
            ModelConfiguration(
                cell: .lstm, input: .dense(features: 8), hiddenSize: 30_000, layers: 2,
                outputSize: 4, topology: .manyToMany))
    }
}

/// This machine runs the kernels, so the processor check must let it through.
@Test func processorCheckPassesWhereTheKernelsRun() throws {
    try Model.checkProcessor()
}

/// The estimate that gates allocation is what a workspace allocates, for
/// every kind of buffer a model can need: embeddings, an encoder, a
/// many-to-one head, outputs computed in place, inference without gradients.
@Test(arguments: [
    ModelConfiguration(
        cell: .lstm, input: .dense(features: 5), hiddenSize: 6, outputSize: 6, topology: .manyToMany,
        head: .identity),
    ModelConfiguration(
        cell: .gru, input: .embedding(vocabularySize: 11, dimension: 3), hiddenSize: 4, layers: 2,
        bidirectional: true, outputSize: 11, topology: .manyToOne),
    ModelConfiguration(
        cell: .rnnTanh, input: .oneHot(vocabularySize: 7), hiddenSize: 5, outputSize: 7, topology: .manyToMany),
    ModelConfiguration(
        cell: .lstm, input: .dense(features: 3), hiddenSize: 4, layers: 2, outputSize: 2,
        topology: .encoderDecoder),
    ModelConfiguration(cell: .gru, input: .dense(features: 3), hiddenSize: 4, outputSize: 3, topology: .oneToMany)
])
func workspaceSizeEstimateCountsEveryBuffer(configuration: ModelConfiguration) throws {
    let model = try Model(configuration, seed: 0)
    for withGradients in [true, false] {
        let workspace = ShardWorkspace(
            model: model, kernels: .current, rowCapacity: 7, timeCapacity: 9, decoderTimeCapacity: 4,
            withGradients: withGradients)
        let plan = ShardWorkspace.plan(
            model: model, rowCapacity: 7, timeCapacity: 9, decoderTimeCapacity: 4,
            withGradients: withGradients)
        #expect(
            plan.floatCount == alignedFloats(in: workspace), "\(configuration.topology), gradients: \(withGradients)")
    }
}

/// Sums the `AlignedBuffer`s reachable from `value`'s stored properties,
/// through optionals, arrays, tuples and the stack workspaces it owns.
private func alignedFloats(in value: Any) -> Int {
    if let buffer = value as? AlignedBuffer { return buffer.count }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .class where value is ShardWorkspace || value is StackWorkspace, .optional, .collection, .tuple:
        return mirror.children.reduce(0) { $0 + alignedFloats(in: $1.value) }
    default:
        return 0
    }
}
