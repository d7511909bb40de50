import Testing
@testable import RNNKernels
@testable import RNNKit

/// The kernels generated for a hidden size are the generic ones with the
/// size fixed at compile time, so a whole model trains to the same bits with
/// either, on every variant this machine runs: every cell, generated sizes,
/// stacked and bidirectional, several shards, variable lengths. One thread,
/// because the selection applies to the calling thread (the variant tests in
/// `VariantGoldenTests` cover worker threads).
@Test(arguments: CellKind.allCases, [32, 64, 128])
func everyCellTrainsToTheSameBitsOnGeneratedAndGenericKernels(_ cell: CellKind, hiddenSize: Int) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .dense(features: 7), hiddenSize: hiddenSize, layers: 2,
        bidirectional: true, outputSize: 3, topology: .manyToMany)
    try #require(KernelSelection.specializedHiddenSizes.contains(hiddenSize))
    var factory = BatchFactory(seed: UInt64(hiddenSize))
    let batch = factory.batch(for: configuration, count: 40, timeSteps: 5, variableLengths: true)
    for instructionSet in KernelSelection.runnableInstructionSets {
        let results = try [true, false].map { specialized in
            try KernelSelection.with(
                KernelSelection(instructionSet: instructionSet, usesSpecializedKernels: specialized)
            ) {
                let model = try Model(configuration, seed: 4)
                let trainer = Trainer(
                    model: model, optimizer: .adam(learningRate: 1e-2), clipping: .norm(1), threads: 1)
                for _ in 0..<2 { try trainer.step(batch) }
                let outputs = try model.outputs(for: batch, threads: 1)
                return model.parameterNames.flatMap { model.parameter($0)!.map(\.bitPattern) }
                    + outputs.map(\.bitPattern)
            }
        }
        #expect(
            results[0] == results[1],
            "\(cell.rawValue) H=\(hiddenSize) on \(instructionSet): generated and generic kernels differ")
    }
}
