import Foundation
import Testing

@testable import RNNKit
import RNNKernels

// Dropout between stacked layers (PyTorch's dropout=): gradients through a
// fixed mask, masks that do not depend on how a mini-batch is split, resumed
// runs, inference without masks, and the masks' statistics.

private func configuration(
    _ cell: CellKind, topology: Topology = .manyToMany, hiddenSize: Int = 4, layers: Int = 3, dropout: Float = 0.3
) -> ModelConfiguration {
    ModelConfiguration(
        cell: cell, input: .dense(features: 3), hiddenSize: hiddenSize, layers: layers, bidirectional: true,
        outputSize: 2, topology: topology, dropout: dropout)
}

@Test(arguments: [CellKind.lstm, .gru, .rnnTanh, .layerNormLSTM], [Topology.manyToMany, .encoderDecoder])
func gradientsThroughAFixedDropoutMaskMatchFiniteDifferences(cell: CellKind, topology: Topology) throws {
    // The sizes of the finite-difference sweep, where the layer norm's
    // curvature stays within its tolerance.
    let c = configuration(cell, topology: topology, hiddenSize: 3, layers: 2)
    let model = try Model(c, seed: 7)
    model.scaleParameters(by: 1.5)
    var factory = BatchFactory(seed: 11)
    let batch = factory.batch(for: c, count: 3, timeSteps: 5, variableLengths: true, decoderTimeSteps: 3)
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 1, seed: 5)
    let (trainingLoss, analytic) = try trainer.gradients(batch)
    // The training pass goes through masks; scoring does not.
    #expect(trainingLoss != (try trainer.loss(batch)))
    // No step is taken, so every training pass draws the same masks.
    try expectGradientsMatchFiniteDifferences(model: model, analytic: analytic, kinks: false) {
        try trainer.gradients(batch).loss
    }
}

/// 150 rows of up to 9 steps: five shards, the last partial.
private func sequences(for c: ModelConfiguration) -> SequenceBatch {
    var factory = BatchFactory(seed: 3)
    return factory.batch(for: c, count: 150, timeSteps: 9, variableLengths: true, decoderTimeSteps: 4)
}

private func settings(
    threads: Int, steps: Int = 4, communicator: any Communicator = SingleProcess(),
    checkpointing: TrainingRun.Checkpointing? = nil
) -> TrainingRun.Settings {
    TrainingRun.Settings(
        optimizer: .adam(learningRate: 1e-2), clipping: .norm(1), batchSize: 150, seed: 9, steps: steps,
        threads: threads, checkpointing: checkpointing, communicator: communicator)
}

private func trained(_ c: ModelConfiguration, _ data: SequenceBatch, _ settings: TrainingRun.Settings) throws
    -> [[Float]]
{
    let model = try Model(c, seed: 2)
    _ = try TrainingRun(settings: settings, batch: data).run(model: model)
    return weights(model)
}

@Test(arguments: [Topology.manyToMany, .encoderDecoder])
func dropoutKeepsTheBitsForAnyThreadMicroBatchOrProcessCount(topology: Topology) throws {
    let c = configuration(.lstm, topology: topology, dropout: 0.5)
    let data = sequences(for: c)
    let alone = try trained(c, data, settings(threads: 1))
    for threads in [2, 3, 7] {
        #expect(try trained(c, data, settings(threads: threads)) == alone, "\(threads) threads")
    }
    // Micro-batches of 64 rows (two shards) and three processes: the masks
    // follow each sequence's row in the mini-batch, wherever it runs.
    let accumulated = try Model(c, seed: 2)
    let trainer = Trainer(model: accumulated, optimizer: .sgd(learningRate: 0.1), threads: 2, seed: 9)
    let whole = try Model(c, seed: 2)
    let wholeTrainer = Trainer(model: whole, optimizer: .sgd(learningRate: 0.1), threads: 2, seed: 9)
    for _ in 0..<2 {
        try trainer.step(data, microBatch: 64)
        try wholeTrainer.step(data)
    }
    #expect(weights(accumulated) == weights(whole))
    let ranks = try InProcessGroup.run(ranks: 3) { communicator in
        try trained(c, data, settings(threads: 1, communicator: communicator))
    }
    for (rank, result) in ranks.enumerated() { #expect(result == alone, "rank \(rank) of 3") }
}

@Test func aResumedRunWithDropoutDrawsTheSameMasks() throws {
    let c = configuration(.gru)
    let data = sequences(for: c)
    let straight = try Model(c, seed: 4)
    _ = try TrainingRun(settings: settings(threads: 2, steps: 7), batch: data).run(model: straight)

    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dropout-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let first = try Model(c, seed: 4)
    _ = try TrainingRun(
        settings: settings(threads: 2, steps: 4, checkpointing: .init(url: url, everySteps: 4)), batch: data
    ).run(model: first)
    let checkpoint = try Checkpoint(contentsOf: url)
    let resumed = try checkpoint.model()
    #expect(resumed.configuration.dropout == 0.3)
    _ = try TrainingRun(
        settings: settings(threads: 2, steps: 7, checkpointing: .init(url: url, resume: checkpoint)), batch: data
    ).run(model: resumed)
    #expect(weights(resumed) == weights(straight))
}

@Test func predictionsAndScoresIgnoreDropoutButTrainingDoesNot() throws {
    let withDropout = try Model(configuration(.lstm, dropout: 0.4), seed: 6)
    let without = try Model(configuration(.lstm, dropout: 0), seed: 6)
    let batch = sequences(for: withDropout.configuration)
    #expect(try withDropout.outputs(for: batch) == without.outputs(for: batch))
    let trainer = Trainer(model: withDropout, optimizer: .adam(learningRate: 1e-2), threads: 2)
    let plainTrainer = Trainer(model: without, optimizer: .adam(learningRate: 1e-2), threads: 2)
    #expect(try trainer.loss(batch) == plainTrainer.loss(batch))
    let report = try trainer.step(batch), plainReport = try plainTrainer.step(batch)
    #expect(report.loss != plainReport.loss)
    #expect(weights(withDropout) != weights(without))
}

@Test(arguments: [Float(0.1), 0.5, 0.9])
func dropoutMasksKeepTheRightShareIndependently(probability: Float) {
    let width = 129, sequences = 40, times = 50
    let masks = Dropout(probability: probability, seed: 1, step: 3)
    let nextStep = Dropout(probability: probability, seed: 1, step: 4)
    var kept = 0, total = 0, sameNextStep = 0, neighbours = 0, neighbourPairs = 0, sameLayerAbove = 0
    var row = [Float](repeating: 1, count: width), later = row, above = row
    for sequence in 0..<sequences {
        for time in 0..<times {
            row = [Float](repeating: 1, count: width)
            later = row
            above = row
            masks.apply(to: &row, width: width, layer: 0, sequence: sequence, time: time, kernels: .current)
            nextStep.apply(to: &later, width: width, layer: 0, sequence: sequence, time: time, kernels: .current)
            masks.apply(to: &above, width: width, layer: 1, sequence: sequence, time: time, kernels: .current)
            for feature in 0..<width {
                // What is kept is scaled exactly as PyTorch scales it.
                #expect(row[feature] == 0 || row[feature] == 1 / (1 - probability))
                let keeps = row[feature] != 0
                kept += keeps ? 1 : 0
                sameNextStep += keeps == (later[feature] != 0) ? 1 : 0
                sameLayerAbove += keeps == (above[feature] != 0) ? 1 : 0
                if feature > 0 {
                    neighbours += keeps && row[feature - 1] != 0 ? 1 : 0
                    neighbourPairs += 1
                }
            }
            total += width
        }
    }
    let keep = Double(1 - probability)
    // Five standard deviations of a binomial share.
    func expectShare(_ count: Int, of trials: Int, near expected: Double, _ what: String) {
        let share = Double(count) / Double(trials)
        let spread = 5 * (expected * (1 - expected) / Double(trials)).squareRoot()
        #expect(abs(share - expected) < spread, "\(what): \(share), expected \(expected) ± \(spread)")
    }
    expectShare(kept, of: total, near: keep, "kept")
    // Independent draws: neighbouring features, the next step's mask and the
    // layer above agree only as often as chance has it.
    expectShare(neighbours, of: neighbourPairs, near: keep * keep, "neighbours both kept")
    let agreement = keep * keep + (1 - keep) * (1 - keep)
    expectShare(sameNextStep, of: total, near: agreement, "same as the next step")
    expectShare(sameLayerAbove, of: total, near: agreement, "same as the layer above")
}

@Test func dropoutIsRecordedInTheModelFileAndCheckedOnLoad() throws {
    let model = try Model(configuration(.gru, dropout: 0.25), seed: 1)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dropout-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.write(to: url)
    var file = try SafetensorsFile(contentsOf: url)
    #expect(file.metadata["dropout"] == "0.25")
    #expect(try Model(file: file).configuration.dropout == 0.25)
    for bad in ["1", "-0.1", "nan", "half"] {
        file.metadata["dropout"] = bad
        #expect(throws: ModelError.self, "dropout \(bad)") { try Model(file: file) }
    }
    for bad: Float in [1, -0.5, .nan] {
        #expect(throws: ModelError.self, "dropout \(bad)") { try Model(configuration(.gru, dropout: bad), seed: 1) }
    }
}
