import Foundation
import Testing
@testable import RNNKit

// Sizes, counts and settings handed to the public API are data too: each of
// these once trapped (overflow, a negative count, an allocation the size of
// the address space) or was used silently. Each must be a typed error.

private func denseModel(_ topology: Topology = .manyToMany, features: Int = 2, outputs: Int = 2) throws -> Model {
    try Model(
        ModelConfiguration(
            cell: .gru, input: .dense(features: features), hiddenSize: 3, outputSize: outputs,
            topology: topology), seed: 1)
}

@Test func batchSizesThatOverflowAreRefused() throws {
    let model = try denseModel()
    #expect(throws: ModelError.self) {
        try model.outputs(for: SequenceBatch(count: Int.max / 2, timeSteps: 3, inputs: .features([1])))
    }
    #expect(throws: ModelError.self) {
        try model.outputs(for: SequenceBatch(count: 1 << 30, timeSteps: 1 << 20, inputs: .features([1])))
    }
    // A decoder length is read by encoder-decoder models only.
    let outputs = try model.outputs(
        for: SequenceBatch(
            count: 2, timeSteps: 1, inputs: .features([1, 2, 3, 4]),
            decoderTimeSteps: Int.max))
    #expect(outputs.count == 4)
}

@Test func configurationSizesThatOverflowAreRefused() {
    let configurations = [
        ModelConfiguration(
            cell: .lstm, input: .embedding(vocabularySize: Int.max, dimension: 2), hiddenSize: 4,
            outputSize: 2, topology: .manyToOne),
        ModelConfiguration(
            cell: .gru, input: .dense(features: 2), hiddenSize: Int.max, bidirectional: true,
            outputSize: 2, topology: .manyToMany, head: .identity),
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 1 << 24), hiddenSize: 1 << 24, layers: 1024,
            bidirectional: true, outputSize: 1, topology: .encoderDecoder)
    ]
    for configuration in configurations {
        #expect(throws: ModelError.self) { try Model(configuration) }
    }
}

@Test func countsBelowOneOrBeyondMemoryAreRefused() throws {
    let model = try denseModel(.oneToMany)
    #expect(throws: ModelError.self) { try StepRunner(model: model, count: -1) }
    #expect(throws: ModelError.self) { try RecurrentState.zeros(for: model.configuration, count: 0) }
    #expect(throws: ModelError.self) { try model.generate(from: [1, 2], count: -1, steps: 1) }
    #expect(throws: ModelError.tooLarge("1 sequences of 4611686018427387903 steps of 2 outputs exceed 2^31 floats")) {
        try model.generate(from: [1, 2], count: 1, steps: Int.max / 2)
    }
    let corpus = try TextCorpus(text: "abcdefghij")
    var generator = SeededGenerator(seed: 1)
    #expect(throws: DatasetError.self) {
        try corpus.randomWindowStarts(count: Int.max, length: 3, range: 0..<10, using: &generator)
    }
}

@Test func unusableTrainingSettingsAreRefused() throws {
    let model = try denseModel()
    let batch = SequenceBatch(count: 1, timeSteps: 2, inputs: .features([1, 2, 3, 4]), targets: .values([0, 1, 1, 0]))
    let settings: [(Optimizer, GradientClipping)] = [
        (.sgd(learningRate: .nan), .none), (.sgd(learningRate: -0.1), .none), (.adam(beta1: 1), .none),
        (.adam(), .norm(-1)), (.adam(), .value(.nan))
    ]
    let before = model.parameter("rnn.weight_hh_l0")!
    for (optimizer, clipping) in settings {
        let trainer = Trainer(model: model, optimizer: optimizer, clipping: clipping, threads: 1)
        #expect(throws: ModelError.self, "\(optimizer) \(clipping)") { try trainer.step(batch) }
    }
    #expect(model.parameter("rnn.weight_hh_l0")! == before)
}

@Test func aCheckpointWithAnImpossibleStepOrMomentIsRefused() throws {
    let model = try denseModel()
    let trainer = Trainer(model: model, optimizer: .adam(), threads: 1)
    try trainer.step(
        SequenceBatch(count: 1, timeSteps: 2, inputs: .features([1, 2, 3, 4]), targets: .values([0, 1, 1, 0])))
    var late = trainer.checkpoint()
    late.file.metadata["optimizer_step"] = String(Int.max)
    #expect(throws: ModelError.self) { try trainer.restoreOptimizer(from: late) }
    var poisoned = trainer.checkpoint()
    let name = "optimizer.exp_avg_sq.rnn.weight_hh_l0"
    guard let moment = poisoned.file.tensors[name] else {
        Issue.record("no tensor \(name) in \(poisoned.file.tensors.keys.sorted())")
        return
    }
    var values = try poisoned.file.floats(name)
    values[0] = .nan
    poisoned.file.tensors[name] = Tensor(floats: values, shape: moment.shape)
    #expect(throws: ModelError.self) { try trainer.restoreOptimizer(from: poisoned) }
}

@Test func aScalingThatOverflowsTheDataIsRefused() throws {
    let scaling = try FeatureScaling(mean: [0], deviation: [Float.leastNonzeroMagnitude])
    #expect(throws: DatasetError.self) { try scaling.scale([1, 2]) }
    #expect(throws: DatasetError.self) { try FeatureScaling(mean: [0], deviation: [1e38]).unscale([10]) }
    #expect(try scaling.scale([0]) == [0])
}

@Test func classNamesThatRepeatAreRefused() {
    let file = Array("@problemName t\n@univariate true\n@classLabel true a b\n@data\n1,2:a\n".utf8)
    #expect(
        throws: DatasetError.invalidArgument(
            name: "classNames", value: "naming 'b' twice", expected: "distinct class names")
    ) {
        try TimeSeriesClassificationSet(bytes: file, source: "t.ts", classNames: ["b", "b", "a"])
    }
}
