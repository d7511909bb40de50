import Testing
@testable import RNNKit

@Test(arguments: CellKind.allCases)
func stepwiseRunMatchesWholeSequence(_ cell: CellKind) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .oneHot(vocabularySize: 6), hiddenSize: 9, layers: 2,
        outputSize: 6, topology: .manyToMany)
    let model = try Model(configuration, seed: 4)
    let tokens: [Int32] = [1, 4, 0, 5, 2, 2, 3, 1, 0, 4, 5, 3]  // 2 sequences x 6 steps
    let whole = try model.outputs(for: SequenceBatch(count: 2, timeSteps: 6, inputs: .tokens(tokens)))
    let runner = try StepRunner(model: model, count: 2)
    for step in 0..<6 {
        let outputs = try runner.step(.tokens([tokens[step], tokens[6 + step]]))
        for row in 0..<2 {
            let expected = whole[(row * 6 + step) * 6..<(row * 6 + step + 1) * 6]
            let got = outputs[row * 6..<(row + 1) * 6]
            #expect(zip(expected, got).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($0)) })
        }
    }
}

@Test(arguments: CellKind.allCases)
func generationMatchesTeacherForcingOnItsOwnOutputs(_ cell: CellKind) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .dense(features: 3), hiddenSize: 5,
        outputSize: 3, topology: .oneToMany)
    let model = try Model(configuration, seed: 2)
    let starts: [Float] = [0.5, -0.2, 0.1, 1, 0, -1]
    let generated = try model.generate(from: starts, count: 2, steps: 4)
    // Fed its own outputs as targets, the teacher-forced pass must reproduce them.
    let forced = try model.outputs(
        for: SequenceBatch(
            count: 2, timeSteps: 4, inputs: .features(starts),
            targets: .values(generated)))
    #expect(zip(generated, forced).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($0)) })
}
