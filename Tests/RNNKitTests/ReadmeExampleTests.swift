import Foundation
import Testing
import RNNKit

// The README's API example, compiled and run here. The test below checks that
// the README shows exactly this code.

// README-EXAMPLE-BEGIN
func readmeExample() throws -> Double {
    // A many-to-one LSTM regressor: 8 features per step in, 1 value out.
    let configuration = ModelConfiguration(cell: .lstm, input: .dense(features: 8), hiddenSize: 32,
                                           outputSize: 1, topology: .manyToOne)
    let model = try Model(configuration, seed: 42)

    // 4 sequences of up to 10 steps, batch-first; the last two are shorter.
    var generator = SeededGenerator(seed: 1)
    let inputs = (0..<4 * 10 * 8).map { _ in generator.uniform(-1, 1) }
    let batch = SequenceBatch(count: 4, timeSteps: 10, inputs: .features(inputs), lengths: [10, 10, 7, 3],
                              targets: .values([0.5, -0.25, 1, 0]))

    let trainer = Trainer(model: model, optimizer: .adam(learningRate: 1e-2), clipping: .norm(5))
    var report = try trainer.step(batch)
    for _ in 0..<50 { report = try trainer.step(batch) }

    let predictions = try model.outputs(for: batch)      // [4, 1]
    try model.write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "regressor.safetensors"))
    _ = predictions
    return report.loss
}
// README-EXAMPLE-END

@Test func readmeExampleTrains() throws {
    #expect(try readmeExample() < 0.05)
}

@Test func readmeShowsTheCompiledExample() throws {
    let here = URL(fileURLWithPath: #filePath)
    let source = try String(contentsOf: here, encoding: .utf8)
    let readme = try String(contentsOf: here.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
    let begin = source.range(of: "// README-EXAMPLE-BEGIN\n")!, end = source.range(of: "// README-EXAMPLE-END")!
    let example = String(source[begin.upperBound..<end.lowerBound])
    #expect(readme.contains(example), "README.md must show the example in ReadmeExampleTests.swift verbatim")
}
