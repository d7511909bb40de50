import Foundation
import Testing
@testable import RNNKit

// A model without a head is the recurrent stack alone: what a linear head
// with the identity matrix and zero bias would compute, with no head tensors.

@Suite struct OutputHeadTests {
    private func pair(
        _ cell: CellKind, bidirectional: Bool, topology: Topology = .manyToMany, hiddenSize: Int = 5,
        projectionSize: Int = 0
    ) throws -> (bare: Model, identityLinear: Model) {
        let width = (projectionSize > 0 ? projectionSize : hiddenSize) * (bidirectional ? 2 : 1)
        func configuration(_ head: OutputHead) -> ModelConfiguration {
            ModelConfiguration(
                cell: cell, input: .dense(features: 3), hiddenSize: hiddenSize, layers: 2,
                bidirectional: bidirectional, outputSize: width, topology: topology, head: head,
                projectionSize: projectionSize)
        }
        let bare = try Model(configuration(.identity), seed: 4)
        let linear = try Model(configuration(.linear), seed: 4)
        for name in bare.parameterNames { try linear.setParameter(name, to: bare.parameter(name)!) }
        try linear.setParameter("head.weight", to: (0..<width * width).map { $0 / width == $0 % width ? 1 : 0 })
        try linear.setParameter("head.bias", to: [Float](repeating: 0, count: width))
        return (bare, linear)
    }

    // Per step, a bare model's loss works in place on the stack's output;
    // many-to-one, on the gathered last outputs.
    @Test(arguments: CellKind.allCases, [(false, Topology.manyToMany), (true, .manyToMany), (true, .manyToOne)])
    func noHeadIsTheIdentityHead(cell: CellKind, shape: (bidirectional: Bool, topology: Topology)) throws {
        let (bare, linear) = try pair(cell, bidirectional: shape.bidirectional, topology: shape.topology)
        #expect(!bare.parameterNames.contains { $0.hasPrefix("head.") })
        var factory = BatchFactory(seed: 2)
        let batch = factory.batch(for: bare.configuration, count: 6, timeSteps: 4, variableLengths: true)
        // x·1 + 0 is exact, so outputs and every recurrent gradient agree to the bit.
        #expect(try bare.outputs(for: batch, threads: 1) == linear.outputs(for: batch, threads: 1))
        let (bareLoss, bareGradients) = try Trainer(model: bare, optimizer: .sgd(learningRate: 0), threads: 1)
            .gradients(batch)
        let (linearLoss, linearGradients) = try Trainer(model: linear, optimizer: .sgd(learningRate: 0), threads: 1)
            .gradients(batch)
        #expect(bareLoss == linearLoss)
        for name in bare.parameterNames { #expect(bareGradients[name] == linearGradients[name], "\(name)") }
    }

    // A bare model's forward pass writes its top layer straight into the
    // caller's batch-first result: from two shards (32 + 8 rows), from the
    // threads that split a shard's hidden units, from a decoder, and
    // through a projection.
    @Test(arguments: [Topology.manyToMany, .encoderDecoder], [0, 24])
    func outputsWrittenInPlaceAreTheHeadsOutputs(topology: Topology, projectionSize: Int) throws {
        let (bare, linear) = try pair(
            .lstm, bidirectional: true, topology: topology, hiddenSize: 48, projectionSize: projectionSize)
        var factory = BatchFactory(seed: 5)
        let batch = factory.batch(
            for: bare.configuration, count: 40, timeSteps: 6, variableLengths: topology == .manyToMany,
            decoderTimeSteps: 4)
        let expected = try linear.outputs(for: batch, threads: 1)
        for threads in [1, 2, 3] { #expect(try bare.outputs(for: batch, threads: threads) == expected, "\(threads)") }
    }

    @Test func modelFilesRecordTheHead() throws {
        let (bare, _) = try pair(.gru, bidirectional: true)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("head-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try bare.write(to: url)
        let loaded = try Model(contentsOf: url)
        #expect(loaded.configuration == bare.configuration)
        #expect(try SafetensorsFile(contentsOf: url).metadata["head"] == "identity")
    }

    @Test func aBareModelsOutputIsItsTopLayer() {
        let wrongWidth = ModelConfiguration(
            cell: .lstm, input: .dense(features: 3), hiddenSize: 5, bidirectional: true,
            outputSize: 5, topology: .manyToMany, head: .identity)
        #expect(throws: ModelError.self) { try wrongWidth.validate() }
    }
}
