import Foundation
import Testing

import RNNKit

/// The scores, metadata and forecaster an application reads through the
/// public API (no `@testable`): what `rnnkit eval` and `forecast` use.
@Suite("Scores, model-file metadata and forecasting")
struct EvaluationTests {
    @Test("Classification scores: accuracy, confusion and mean cross-entropy")
    func classificationScores() {
        var scores = ClassificationScores(classNames: ["a", "b"])
        scores.add(logits: [2, 0][...], label: 0)
        scores.add(logits: [0, 1][...], label: 0)
        scores.add(logits: [-1, 3][...], label: 1)
        #expect(scores.count == 3 && scores.correct == 2)
        #expect(scores.confusion == [[1, 1], [0, 1]])
        #expect(abs(scores.accuracy - 2.0 / 3) < 1e-12)
        let nats = [log(1 + exp(-2.0)), log(1 + exp(1.0)), log(1 + exp(-4.0))]
        #expect(abs(scores.loss - nats.reduce(0, +) / 3) < 1e-9)
        let probabilities = softmax([1, 2, 3][...])
        #expect(abs(probabilities.reduce(0, +) - 1) < 1e-6 && probabilities[2] > probabilities[1])
    }

    @Test("Regression scores and MAPE skip nothing but zero actuals")
    func regressionScores() {
        var scores = RegressionScores()
        scores.add(predicted: 1, actual: 2)
        scores.add(predicted: 5, actual: 2)
        #expect(scores.meanSquaredError == 5 && scores.meanAbsoluteError == 2)
        #expect(abs(scores.rootMeanSquaredError - 5.0.squareRoot()) < 1e-12)
        #expect(meanAbsolutePercentageError(actual: [2, 0, 4], predicted: [1, 7, 5]) == 37.5)
        #expect(meanAbsolutePercentageError(actual: [0], predicted: [1]).isNaN)
    }

    @Test("A forecaster's settings survive the model file's metadata, and its transforms invert")
    func forecasterMetadata() throws {
        let configuration = ModelConfiguration(
            cell: .lstm, input: .dense(features: 2), hiddenSize: 8, outputSize: 2,
            topology: .manyToOne)
        let model = try Model(configuration, seed: 1)
        let scaling = try FeatureScaling(mean: [0.5, -1], deviation: [2, 3])
        let forecaster = Forecaster(
            model: model, window: 4, horizon: 1, transform: .logDifference, scaling: scaling,
            columns: ["x", "y"], timestampColumn: "month", season: 12, testCount: 6)
        var metadata = DataMetadata()
        forecaster.write(into: &metadata)
        let read = try Forecaster(model: model, metadata: metadata)
        #expect(read.window == 4 && read.horizon == 1 && read.transform == .logDifference)
        #expect(read.columns == ["x", "y"] && read.timestampColumn == "month" && read.testCount == 6)
        #expect(read.scaling == scaling && read.historyNeeded == 5)
        let values: [Float] = [1, 2, 2, 6, 8, 3]
        let changes = Forecaster.transformed(values[...], columns: 2, transform: .logDifference)
        for index in changes.indices {
            #expect(abs(read.untransform(changes[index], after: values[index]) - values[index + 2]) < 1e-5)
        }
        metadata.entries[DataMetadata.Key.kind] = "time_series_classification"
        #expect(throws: ModelError.self) { try Forecaster(model: model, metadata: metadata) }
    }
}
