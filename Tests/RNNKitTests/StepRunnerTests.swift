import Foundation
import Testing

@testable import RNNKit

// The step runner's own path for one-direction models: each step's outputs
// against the batch engine's pass over the whole sequence, independent
// streams, reset, and the engine's path for the models it leaves to it.

private let configurations: [ModelConfiguration] = [
    ModelConfiguration(
        cell: .lstm, input: .oneHot(vocabularySize: 13), hiddenSize: 40, outputSize: 13, topology: .manyToMany),
    ModelConfiguration(
        cell: .gru, input: .embedding(vocabularySize: 9, dimension: 6), hiddenSize: 17, layers: 2, outputSize: 4,
        topology: .manyToMany),
    ModelConfiguration(
        cell: .rnnTanh, input: .dense(features: 5), hiddenSize: 33, layers: 2, outputSize: 3, topology: .manyToMany),
    ModelConfiguration(
        cell: .rnnReLU, input: .dense(features: 5), hiddenSize: 16, outputSize: 16, topology: .manyToMany,
        head: .identity),
    ModelConfiguration(
        cell: .layerNormLSTM, input: .dense(features: 4), hiddenSize: 20, layers: 2, outputSize: 3,
        topology: .manyToMany),
    ModelConfiguration(
        cell: .lstm, input: .dense(features: 4), hiddenSize: 24, layers: 3, outputSize: 2, topology: .manyToMany,
        bias: false, projectionSize: 9),
    // A generated hidden size: the fused LSTM step where the kernels have one.
    ModelConfiguration(
        cell: .lstm, input: .oneHot(vocabularySize: 11), hiddenSize: 64, layers: 2, outputSize: 11,
        topology: .manyToMany)
]

// One stream is one row of the GEMMs' register tiles; three share a tile.
@Test(arguments: configurations, [1, 3])
func stepsMatchTheWholeSequencesPass(_ configuration: ModelConfiguration, streams: Int) throws {
    let model = try Model(configuration, seed: 3)
    var factory = BatchFactory(seed: 4)
    let steps = 7
    let batch = factory.batch(for: configuration, count: streams, timeSteps: steps, variableLengths: false)
    let (expected, final) = try Predictor(model: model, threads: 1).run(batch)
    let runner = try StepRunner(model: model, count: streams)
    let outputSize = configuration.outputSize, width = configuration.input.rnnInputSize
    var outputs = [Float](repeating: 0, count: streams * outputSize)
    for step in 0..<steps {
        let inputs: SequenceBatch.Inputs
        switch batch.inputs {
        case .tokens(let tokens): inputs = .tokens((0..<streams).map { tokens[$0 * steps + step] })
        case .features(let features):
            var rows: [Float] = []
            for stream in 0..<streams {
                let start = (stream * steps + step) * width
                rows += features[start..<start + width]
            }
            inputs = .features(rows)
        }
        try runner.step(inputs, into: &outputs)
        for stream in 0..<streams {
            for output in 0..<outputSize {
                let want = expected[(stream * steps + step) * outputSize + output]
                let got = outputs[stream * outputSize + output]
                #expect(abs(got - want) <= 1e-5 * max(1, abs(want)), "step \(step), stream \(stream)[\(output)]")
            }
        }
    }
    let state = runner.state
    #expect(state.hiddenSize == final.hiddenSize && state.hidden.count == final.hidden.count)
    for (got, want) in zip(state.hidden + (state.cell ?? []), final.hidden + (final.cell ?? [])) {
        #expect(abs(got - want) <= 1e-5 * max(1, abs(want)))
    }
}

@Test func streamsAreIndependentAndResetStartsAfresh() throws {
    let configuration = configurations[0]
    let model = try Model(configuration, seed: 5)
    let together = try StepRunner(model: model, count: 2)
    let alone = try StepRunner(model: model, count: 1)
    var first: [Float] = []
    for token: Int32 in [3, 1, 4, 1, 5] {
        let both = try together.step(.tokens([token, 12 - token]))
        let single = try alone.step(.tokens([12 - token]))
        #expect(Array(both[13...]) == single, "the second stream reads only its own tokens")
        if first.isEmpty { first = single }
    }
    alone.reset()
    #expect(alone.state.hidden.allSatisfy { $0 == 0 })
    #expect(try alone.step(.tokens([9])) == first)
}

@Test func stepsRefuseInputsThatDoNotFit() throws {
    let runner = try StepRunner(model: try Model(configurations[0], seed: 1), count: 2)
    var outputs = [Float](repeating: 0, count: 26)
    #expect(throws: ModelError.self) { try runner.step(.tokens([1]), into: &outputs) }
    #expect(throws: ModelError.self) { try runner.step(.tokens([1, 13]), into: &outputs) }
    #expect(throws: ModelError.self) { try runner.step(.features([0, 0]), into: &outputs) }
    var short = [Float](repeating: 0, count: 25)
    #expect(throws: ModelError.self) { try runner.step(.tokens([1, 2]), into: &short) }
}

@Test func aBidirectionalModelStepsThroughTheEngine() throws {
    let configuration = ModelConfiguration(
        cell: .gru, input: .dense(features: 3), hiddenSize: 8, bidirectional: true, outputSize: 2,
        topology: .manyToMany)
    let model = try Model(configuration, seed: 2)
    let runner = try StepRunner(model: model, count: 1)
    let outputs = try runner.step(.features([0.1, -0.2, 0.3]))
    let batch = SequenceBatch(count: 1, timeSteps: 1, inputs: .features([0.1, -0.2, 0.3]))
    #expect(outputs == (try model.outputs(for: batch)))
    #expect(runner.state.hidden.count == 2 * 8)
}

/// The fused step's packed weights must follow the model: a runner sees
/// `setParameter` and a training step at its next step, as a new one does.
// What the runner prepares from the weights (the fused step's packed
// W_hh, a one-hot input's transposed W_ih, the folded biases, a GRU's b_hn
// among its cell's tensors) follows every edit and training step.
@Test(arguments: [configurations.last!, configurations[1]])
func editsOfTheModelReachTheNextStep(_ configuration: ModelConfiguration) throws {
    let model = try Model(configuration, seed: 6)
    let runner = try StepRunner(model: model, count: 2)
    let tokens: [Int32] = [3, 7, 5, 1]
    /// The second step's outputs after a reset (the first starts from zeros, where W_hh counts for nothing).
    func secondStep(_ runner: StepRunner) throws -> [Float] {
        runner.reset()
        _ = try runner.step(.tokens(Array(tokens[0..<2])))
        return try runner.step(.tokens(Array(tokens[2..<4])))
    }
    var last = try secondStep(runner)
    for name in ["rnn.weight_hh_l0", "rnn.weight_ih_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"] {
        try model.setParameter(name, to: model.parameter(name)!.map { 0.1 - 2 * $0 })
        let edited = try secondStep(runner)
        #expect(edited != last, "\(name)")
        #expect(edited == (try secondStep(StepRunner(model: model, count: 2))), "\(name)")
        last = edited
    }
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0.5), threads: 1)
    var factory = BatchFactory(seed: 7)
    try trainer.step(factory.batch(for: configuration, count: 4, timeSteps: 5, variableLengths: false))
    let trained = try secondStep(runner)
    #expect(trained != last)
    #expect(trained == (try secondStep(StepRunner(model: model, count: 2))))
}

/// A predictor kept across edits of its model sees each edit and training
/// step at its next pass, as a new one does: the batch passes prepare the
/// packed weights (fused or not, `W_hr` with projections), folded biases and
/// a one-hot input's transposed `W_ih` once per parameter version.
@Test(arguments: [configurations.last!, configurations[1], configurations[5]])
func editsOfTheModelReachTheNextPass(_ configuration: ModelConfiguration) throws {
    let model = try Model(configuration, seed: 6)
    let predictor = Predictor(model: model, threads: 1)
    var factory = BatchFactory(seed: 8)
    let batch = factory.batch(for: configuration, count: 3, timeSteps: 4, variableLengths: false)
    var last = try predictor.outputs(for: batch)
    let names = ["rnn.weight_hh_l0", "rnn.weight_ih_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_hr_l0"]
    for name in names where model.parameter(name) != nil {
        try model.setParameter(name, to: model.parameter(name)!.map { 0.1 - 2 * $0 })
        let edited = try predictor.outputs(for: batch)
        #expect(edited != last, "\(name)")
        #expect(edited == (try Predictor(model: model, threads: 1).outputs(for: batch)), "\(name)")
        last = edited
    }
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0.5), threads: 1)
    try trainer.step(factory.batch(for: configuration, count: 4, timeSteps: 5, variableLengths: false))
    let trained = try predictor.outputs(for: batch)
    #expect(trained != last)
    #expect(trained == (try Predictor(model: model, threads: 1).outputs(for: batch)))
}
