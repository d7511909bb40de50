import Foundation
import Testing

@testable import RNNKit

// LSTM projections (PyTorch's proj_size): finite differences, bits across
// thread counts, the layout and its refusals. The golden fixtures `*-proj`
// compare outputs, states, gradients and optimiser steps with PyTorch.

private func configuration(
    bidirectional: Bool = true, layers: Int = 2, topology: Topology = .manyToMany, hiddenSize: Int = 5,
    projectionSize: Int = 3
) -> ModelConfiguration {
    ModelConfiguration(
        cell: .lstm, input: .dense(features: 3), hiddenSize: hiddenSize, layers: layers,
        bidirectional: bidirectional, outputSize: 2, topology: topology, projectionSize: projectionSize)
}

@Test(
    arguments: [false, true], [Topology.manyToMany, .manyToOne, .encoderDecoder, .oneToMany])
func projectedGradientsMatchFiniteDifferences(bidirectional: Bool, topology: Topology) throws {
    var c = configuration(bidirectional: bidirectional, topology: topology)
    if topology == .oneToMany { c.input = .dense(features: 2) }
    let model = try Model(c, seed: 7)
    model.scaleParameters(by: 1.5)
    var factory = BatchFactory(seed: 11)
    let batch = factory.batch(
        for: c, count: 3, timeSteps: 5, variableLengths: topology != .oneToMany, decoderTimeSteps: 3)
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 1)
    let (_, analytic) = try trainer.gradients(batch)
    try expectGradientsMatchFiniteDifferences(model: model, analytic: analytic, kinks: false) {
        try trainer.loss(batch)
    }
}

@Test func projectedGradientsFlowIntoAGivenInitialState() throws {
    let c = configuration(bidirectional: false, layers: 2)
    let model = try Model(c, seed: 3)
    var factory = BatchFactory(seed: 4)
    let batch = factory.batch(for: c, count: 2, timeSteps: 4, variableLengths: true)
    var generator = SeededGenerator(seed: 9)
    var state = try RecurrentState.zeros(for: c, count: 2)
    #expect(state.hidden.count == 2 * 2 * 3 && state.cell?.count == 2 * 2 * 5)
    for index in state.hidden.indices { state.hidden[index] = generator.uniform(-1, 1) }
    for index in state.cell!.indices { state.cell![index] = generator.uniform(-1, 1) }
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 1)
    let (_, analytic) = try trainer.gradients(batch, initialState: state)
    try expectGradientsMatchFiniteDifferences(model: model, analytic: analytic, kinks: false) {
        try trainer.loss(batch, initialState: state)
    }
    let (_, final) = try Predictor(model: model, threads: 1).run(batch, initialState: state)
    #expect(final.hiddenSize == 3 && final.hidden.count == 12 && final.cell?.count == 20)
}

@Test func projectedTrainingKeepsItsBitsForAnyThreadCount() throws {
    // 40 hidden units split into parts of 16 and a projection of 20 (16 + 4).
    let c = configuration(hiddenSize: 40, projectionSize: 20)
    var factory = BatchFactory(seed: 5)
    let batch = factory.batch(for: c, count: 70, timeSteps: 7, variableLengths: true)
    func trained(threads: Int) throws -> [[Float]] {
        let model = try Model(c, seed: 1)
        let trainer = Trainer(model: model, optimizer: .adam(learningRate: 1e-2), threads: threads)
        for _ in 0..<3 { try trainer.step(batch) }
        return weights(model) + [try model.outputs(for: batch, threads: threads)]
    }
    let alone = try trained(threads: 1)
    for threads in [2, 3, 5] { #expect(try trained(threads: threads) == alone, "\(threads) threads") }
}

@Test func aProjectedModelHasPyTorchsTensorsAndRoundTrips() throws {
    let c = configuration()
    let model = try Model(c, seed: 1)
    #expect(model.shape(of: "rnn.weight_hh_l0") == [20, 3])
    #expect(model.shape(of: "rnn.weight_hr_l0_reverse") == [3, 5])
    #expect(model.shape(of: "rnn.weight_ih_l1") == [20, 6])
    #expect(model.shape(of: "head.weight") == [2, 6])
    #expect(
        model.parameterNames.filter { $0.hasPrefix("rnn.") && $0.contains("_l0") } == [
            "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_hr_l0",
            "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse",
            "rnn.weight_hr_l0_reverse"
        ])
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("proj-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.write(to: url)
    var file = try SafetensorsFile(contentsOf: url)
    #expect(file.metadata["proj_size"] == "3")
    let loaded = try Model(file: file)
    #expect(loaded.configuration == c && weights(loaded) == weights(model))
    for bad in ["5", "-1", "x"] {
        file.metadata["proj_size"] = bad
        #expect(throws: ModelError.self, "proj_size \(bad)") { try Model(file: file) }
    }
    file.metadata["proj_size"] = nil
    #expect(throws: ModelError.self, "a file with weight_hr but no proj_size") { try Model(file: file) }
}

@Test func projectionsAreRefusedWhereTorchRefusesThem() {
    for (cell, size) in [(CellKind.gru, 3), (.rnnTanh, 3), (.layerNormLSTM, 3), (.lstm, 5), (.lstm, -1)] {
        var c = configuration(projectionSize: size)
        c.cell = cell
        #expect(throws: ModelError.self, "\(cell) proj_size \(size)") { try Model(c, seed: 1) }
    }
}
