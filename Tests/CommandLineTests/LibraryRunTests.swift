import Foundation
import Testing
import RNNKit

/// An application does what `rnnkit train` does on a `.ts` set in a few
/// lines of the library's API, and gets the same weights bit for bit.
@Test func theLibraryReproducesTrainOnATimeSeriesSet() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    // Two classes of short univariate series of unequal lengths.
    func cases(_ count: Int, seed: UInt64) -> String {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { index in
            let label = index % 2, length = 5 + index % 4
            let values = (0..<length).map { step in
                String(Float(label) + 0.5 * sin(Float(step)) + 0.3 * generator.uniform(-1, 1))
            }
            return values.joined(separator: ",") + ":\(label)"
        }.joined(separator: "\n")
    }
    let header = "@problemName Toy\n@univariate true\n@equalLength false\n@classLabel true 0 1\n@data\n"
    let trainFile = folder.appendingPathComponent("Toy_TRAIN.ts")
    try (header + cases(20, seed: 1)).write(to: trainFile, atomically: true, encoding: .utf8)
    let testFile = folder.appendingPathComponent("Toy_TEST.ts")
    try (header + cases(10, seed: 2)).write(to: testFile, atomically: true, encoding: .utf8)
    let out = folder.appendingPathComponent("tool.safetensors")
    let run = try Tool.run([
        "train", "--data", trainFile.path, "--steps", "40", "--threads", "2", "--out", out.path, "--no-plot"
    ])
    #expect(run.status == 0, "\(run.standardError)")

    // The same run through the library, with the tool's defaults for `.ts` sets spelled out.
    let set = try TimeSeriesClassificationSet(contentsOf: trainFile)
    let model = try Model(
        ModelConfiguration(
            cell: .gru, input: .dense(features: set.dimensions), hiddenSize: 64,
            outputSize: set.classNames.count, topology: .manyToOne))
    let batch = try set.modelBatch(scaling: set.fitScaling(rows: Array(0..<set.count)), patch: 1)
    let settings = TrainingRun.Settings(
        optimizer: .adam(learningRate: 3e-3, weightDecay: 1e-3), clipping: .norm(1), batchSize: 16, steps: 40,
        threads: 1, averagingShare: 0.25)
    let summary = try TrainingRun(settings: settings, batch: batch).run(model: model)
    #expect(summary.steps == 40)

    let trained = try Model(contentsOf: out)
    for name in model.parameterNames {
        #expect(trained.parameter(name)!.map(\.bitPattern) == model.parameter(name)!.map(\.bitPattern), "\(name)")
    }
}
