import Foundation
import Testing
import RNNKit

// The README's API example, compiled and run here. The test below checks that
// the README shows exactly this code.

// README-EXAMPLE-BEGIN
func readmeExample() throws -> Double {
    // A many-to-one LSTM regressor: 8 features per step in, 1 value out.
    let configuration = ModelConfiguration(
        cell: .lstm, input: .dense(features: 8), hiddenSize: 32,
        outputSize: 1, topology: .manyToOne)
    let model = try Model(configuration, seed: 42)

    // Sequences of 3 to 10 steps, batch-first, padded to 10; the target is the mean of the first feature.
    var generator = SeededGenerator(seed: 1)
    func sequences(_ count: Int) -> SequenceBatch {
        let inputs = (0..<count * 10 * 8).map { _ in generator.uniform(-1, 1) }
        let lengths = (0..<count).map { Int32(3 + $0 % 8) }
        let targets: [Float] = (0..<count).map { row in
            let steps = Int(lengths[row])
            return (0..<steps).map { inputs[(row * 10 + $0) * 8] }.reduce(0, +) / Float(steps)
        }
        return SequenceBatch(
            count: count, timeSteps: 10, inputs: .features(inputs), lengths: lengths,
            targets: .values(targets))
    }
    let training = sequences(64), validation = sequences(16)

    // 300 steps of 16 shuffled sequences with Adam, scored on the validation set about ten times;
    // it stops after 3 rounds without a better score, keeping the best weights.
    let scorer = Trainer(model: model, optimizer: .adam())
    let settings = TrainingRun.Settings(
        optimizer: .adam(learningRate: 1e-2), clipping: .norm(5), batchSize: 16,
        steps: 300, earlyStopping: .init(patience: 3, restoreBest: true))
    let run = TrainingRun(
        settings: settings, batch: training, validation: { try scorer.loss(validation) },
        progress: { if $0.isFinal { print("step \($0.step), loss \($0.smoothedLoss)") } })
    let summary = try run.run(model: model)
    print("stopped: \(summary.stopReason), best validation loss \(summary.best!.loss)")

    let predictions = try model.outputs(for: validation)  // [16, 1]
    try model.write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "regressor.safetensors"))
    _ = predictions
    return try scorer.loss(validation)
}
// README-EXAMPLE-END

@Test func readmeExampleTrains() throws {
    // Predicting 0 everywhere scores about 0.05.
    #expect(try readmeExample() < 0.02)
}

@Test func readmeShowsTheCompiledExample() throws {
    let here = URL(fileURLWithPath: #filePath)
    let source = try String(contentsOf: here, encoding: .utf8)
    let readme = try String(
        contentsOf: here.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
    let begin = source.range(of: "// README-EXAMPLE-BEGIN\n")!, end = source.range(of: "// README-EXAMPLE-END")!
    let example = String(source[begin.upperBound..<end.lowerBound])
    #expect(readme.contains(example), "README.md must show the example in ReadmeExampleTests.swift verbatim")
}
