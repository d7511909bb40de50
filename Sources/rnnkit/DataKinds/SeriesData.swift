import CommandLineOptions
import Foundation
import RNNKit

/// A CSV series to forecast: a many-to-one regressor on sliding windows of
/// its values, scored by forecasting its last `--test-count` values.
enum SeriesData: DataKind {
    static let name = "forecasting a CSV series"
    static let singular = "a forecasting series"
    static let heading = "CSV series to forecast (FILE.csv)"
    static let suffixes = ["csv"]
    static let refusals = TrainingPlan.checkpointRefusals.merging([
        "val-split": "does not apply to forecasting: --test-count N holds out the last N values",
        "early-stop": earlyStopRefusal, "restore-best": earlyStopRefusal
    ]) { $1 }
    private static let earlyStopRefusal =
        "needs validation data: forecasting holds out only the test values (--test-count), "
        + "which must not steer training"

    static let trainOptions: [OptionSpec] = [
        .value("window", "N", "past values each prediction reads (default 24, or half the training rows)"),
        .value("horizon", "N", "values each prediction gives, fed back for longer forecasts (default 1)"),
        .value("test-count", "N", "hold out the last N values and forecast them (default 12)"),
        .value("season", "N", "season length of the seasonal-naive baseline (default 12)"),
        .value("transform", "NAME", "what the model reads: diff (differences, default), logdiff or none"),
        TrainingPlan.averagingOption
    ]
    static let evalOptions: [OptionSpec] = [
        .value(
            "test-count", "N", "score one-step-ahead forecasts of the last N values (default: the model's --test-count)"
        )
    ]

    static func trainOutputs(_ command: TrainCommand) -> [URL?] { [command.forecastURLs.csv, command.forecastURLs.svg] }

    /// What `train --data SERIES.csv` does with no other option: chosen on
    /// the monthly series in the README (airline passengers, shampoo sales).
    enum Defaults {
        /// Or half the training rows, if fewer: enough windows to learn from.
        static let window = 24
        /// Differences carry a trend past the training range; on both README
        /// series they forecast as well as log differences or better.
        static let transform = Forecaster.Transform.difference
        static let horizon = 1
        static let testCount = 12
        static let season = 12
        static let cell = CellKind.lstm
        static let hiddenSize = 32
        static let training = TrainingPlan.Defaults(learningRate: 3e-3, clip: 1, batchSize: 16, steps: 1000)
    }

    // MARK: Training

    /// Trains a many-to-one regressor on sliding windows of a CSV series and
    /// forecasts its last `--test-count` values.
    ///
    /// The model reads `--window` rows of the transformed series (differences
    /// unless `--transform` says otherwise), each column scaled with the mean
    /// and deviation of the training rows only, and
    /// predicts the next `--horizon` rows. After training it forecasts the
    /// held-out rows from the end of the training rows, feeding its
    /// predictions back, and writes `MODEL.forecast.csv` and `.svg` with the
    /// MAPE beside the seasonal-naive forecast's.
    static func train(_ command: TrainCommand) throws {
        let arguments = command.arguments
        let url = command.dataURL!
        let quiet = arguments.flag("json")
        let series = try ForecastingSeries(contentsOf: url)
        let testCount = try arguments.integer(
            "test-count", default: Defaults.testCount, range: 0...Arguments.integerRange.upperBound)!
        let season = try arguments.integer("season", default: Defaults.season)!
        let (trainRows, testRows) = series.split(testCount: testCount)
        let trainValues = Array(series.values[..<(trainRows.upperBound * series.columnCount)])

        // A model to continue from keeps its window, transform and scaling.
        var metadata = DataMetadata()
        var initial: Forecaster?
        if let path = arguments.string("init") {
            try command.reject(
                TrainCommand.modelShapeOptions + ["window", "horizon", "transform"],
                reason: "is fixed by the --init model")
            let (model, recorded) = try readModel(URL(fileURLWithPath: path))
            metadata = recorded
            initial = try Forecaster(model: model, metadata: metadata)
            try initial!.check(series)
        }
        let horizon = try initial?.horizon ?? arguments.integer("horizon", default: Defaults.horizon)!
        let transform = try initial?.transform ?? arguments.choice("transform", default: Defaults.transform)!
        let defaultWindow = min(Defaults.window, max(1, (trainRows.count - transform.lag - horizon + 1) / 2))
        let window = try initial?.window ?? arguments.integer("window", default: defaultWindow)!
        let needed = window + transform.lag + horizon
        guard trainRows.count >= needed else {
            throw UsageError(
                "\(url.lastPathComponent) has \(series.length) rows; holding out \(testCount) (--test-count) leaves "
                    + "\(trainRows.count), too few for one window of \(window) "
                    + "(\(initial == nil ? "--window" : "the --init model's window")) plus \(horizon) to "
                    + "predict\(transform.lag > 0 ? " and 1 to difference" : "")"
            )
        }
        if transform == .logDifference, let bad = series.values.firstIndex(where: { $0 <= 0 }) {
            throw UsageError(
                "\(url.lastPathComponent): row \(bad / series.columnCount + 1) holds \(series.values[bad]); "
                    + "--transform logdiff needs positive values"
            )
        }

        // The transformed series: row k stands for series row k + lag.
        let transformedValues = Forecaster.transformed(
            series.values[...], columns: series.columnCount, transform: transform)
        if let bad = transformedValues.firstIndex(where: { !$0.isFinite }) {
            let row = bad / series.columnCount + transform.lag
            throw UsageError(
                "\(url.lastPathComponent): row \(row + 1): the change from the previous row (\(series.values[bad]) "
                    + "to \(series.values[bad + series.columnCount])) overflows single precision; try --transform none"
            )
        }
        let transformed = try ForecastingSeries(
            timestamps: Array(series.timestamps[transform.lag...]), columnNames: series.columnNames,
            values: transformedValues, timestampColumn: series.timestampColumn, source: series.source)
        let trainTransformed = 0..<(trainRows.upperBound - transform.lag)
        let scaling = initial?.scaling ?? transformed.fitScaling(range: trainTransformed)
        let scaled = try transformed.scaled(scaling)
        let training = try scaled.windows(length: window, horizon: horizon, range: trainTransformed)
        // Windows whose targets are held out, for the held-out loss.
        let testWindows =
            testCount >= horizon
            ? try scaled.windows(
                length: window, horizon: horizon, range: (trainTransformed.upperBound - window)..<scaled.length) : nil

        let model =
            try initial?.model
            ?? Model(
                ModelConfiguration(
                    cell: try command.cell(default: Defaults.cell),
                    input: .dense(features: series.columnCount),
                    hiddenSize: try arguments.integer("hidden", default: Defaults.hiddenSize)!,
                    layers: try command.layers,
                    bidirectional: arguments.flag("bidirectional"),
                    outputSize: horizon * series.columnCount, topology: .manyToOne, bias: command.bias,
                    dropout: try command.dropout, projectionSize: try command.projectionSize),
                seed: try command.seed)
        let forecaster = Forecaster(
            model: model, window: window, horizon: horizon, transform: transform, scaling: scaling,
            columns: series.columnNames, timestampColumn: series.timestampColumn, season: season,
            testCount: testCount)
        forecaster.write(into: &metadata)

        let plan = try TrainingPlan(
            arguments, defaults: Defaults.training,
            trainingCount: training.count, seed: try command.seed)
        let threads = try arguments.integer("threads")
        let actual = Array(series.values[(testRows.lowerBound * series.columnCount)...])
        let score =
            testCount == 0
            ? nil
            : { () throws -> TrainingPlan.Score in
                let predicted = try forecaster.forecast(after: trainValues, steps: testCount, threads: threads)
                let loss = try testWindows.map { try model.meanSquaredError($0, threads: threads) } ?? .nan
                return .init(
                    loss: loss,
                    summary: String(
                        format: "test MAPE %.2f%%", meanAbsolutePercentageError(actual: actual, predicted: predicted)))
            }

        if !quiet {
            let c = model.configuration
            let columns = series.columnCount == 1 ? series.columnNames[0] : "\(series.columnCount) columns"
            let reading = transform == .none ? "values" : transform == .difference ? "differences" : "log differences"
            standardError(
                "training a\(c.bidirectional ? " bidirectional" : "") \(c.cell.rawValue) of \(c.hiddenSize) units to "
                    + "forecast \(columns) of \(url.lastPathComponent) (\(series.length) rows), "
                    + "reading \(window) \(reading) to predict \(horizon)"
            )
            standardError(
                testCount == 0
                    ? "\(training.count) training windows over all rows; nothing held out (--test-count 0)"
                    : "\(training.count) training windows over rows 1...\(trainRows.upperBound) "
                        + "(\(series.timestamps[0]) to \(series.timestamps[trainRows.upperBound - 1])); "
                        + "the last \(testCount) (\(series.timestamps[testRows.lowerBound]) to "
                        + "\(series.timestamps[testRows.upperBound - 1])) held out for the test forecast"
            )
        }
        let result = try plan.run(
            model: model, threads: threads, progress: ProgressLine(quiet: quiet), data: { _ in training },
            score: score, averagingShare: TrainingPlan.averagingShare(arguments),
            maximumBadSteps: try command.maximumBadSteps, checkpointing: nil)

        var extra: [(String, JSONValue)] = [
            ("window", .integer(window)), ("horizon", .integer(horizon)),
            ("transform", .string(transform.rawValue)), ("test_count", .integer(testCount))
        ]
        var closing: [String] = []
        if testCount > 0 {
            let predicted = try forecaster.forecast(after: trainValues, steps: testCount, threads: threads)
            // The seasonal-naive baseline needs a whole season of training rows.
            let naive =
                season <= trainRows.count
                ? Forecaster.seasonalNaive(
                    after: trainValues, columns: series.columnCount, steps: testCount, season: season) : nil
            var errors = RegressionScores()
            for (value, prediction) in zip(actual, predicted) { errors.add(predicted: prediction, actual: value) }
            let mape = meanAbsolutePercentageError(actual: actual, predicted: predicted)
            let naiveMAPE = naive.map { meanAbsolutePercentageError(actual: actual, predicted: $0) } ?? .nan
            if let testWindows {
                let loss = try model.meanSquaredError(testWindows, threads: threads)
                extra.append(("test_loss", .number(loss)))
            }
            extra += [
                ("mape", .number(mape)), ("seasonal_naive_mape", .number(naiveMAPE)),
                ("rmse", .number(errors.rootMeanSquaredError)),
                ("mae", .number(errors.meanAbsoluteError))
            ]
            let (csv, svg) = command.forecastURLs
            if Processes.isLead {
                try forecaster.writeForecast(
                    of: series, after: trainRows.upperBound, predicted: predicted, naive: naive, csv: csv, svg: svg)
            }
            extra += [("forecast", .string(csv.path)), ("forecast_plot", svg.map { .string($0.path) } ?? .null)]
            closing.append(
                "wrote the forecast of \(series.timestamps[testRows.lowerBound]) to "
                    + "\(series.timestamps[testRows.upperBound - 1]) to \(csv.path)"
                    + (svg.map { " and \($0.path)" } ?? ""))
            closing.append(
                String(
                    format:
                        "test forecast of the last %d values: MAPE %.2f%%, seasonal naive (season %d) %.2f%%; RMSE "
                        + "%.4g, MAE %.4g",
                    testCount, mape, season, naiveMAPE, errors.rootMeanSquaredError, errors.meanAbsoluteError))
        } else {
            closing.append(
                "nothing held out (--test-count 0): `rnnkit forecast --model \(command.outURL.path) --data "
                    + "\(url.path) --steps N` forecasts past the end"
            )
        }
        try command.finish(
            model: model, result: result, extra: extra, metadata: metadata.entries,
            heldOutName: "test (one step ahead)", closing: closing)
    }

    // MARK: Evaluation

    /// One-step-ahead forecasts of the last values, each from the actual
    /// values before it, in data units.
    static func evaluate(_ command: EvalCommand, model: Model, metadata: DataMetadata, modelURL: URL, data: URL) throws
    {
        let forecaster = try Forecaster(model: model, metadata: metadata)
        let series = try ForecastingSeries(contentsOf: data)
        try forecaster.check(series)
        let testCount = try command.arguments.integer("test-count", default: forecaster.defaultSteps)!
        let first = series.length - testCount
        guard first >= forecaster.historyNeeded else {
            throw UsageError(
                "\(data.lastPathComponent) has \(series.length) rows; scoring the last \(testCount) needs "
                    + "\(forecaster.historyNeeded) before them"
            )
        }
        let predicted = try forecaster.oneStepAhead(
            series.values, targets: first..<series.length, threads: try command.threads)
        let actual = Array(series.values[(first * series.columnCount)...])
        var errors = RegressionScores()
        for (value, prediction) in zip(actual, predicted) { errors.add(predicted: prediction, actual: value) }
        let mape = meanAbsolutePercentageError(actual: actual, predicted: predicted)
        let what =
            "\(data.lastPathComponent): one-step-ahead forecasts of the last \(testCount) values "
            + "(\(series.timestamps[first]) to \(series.timestamps.last!)), each from the actual values before it"
        command.reportErrors(errors, what: what, extra: [("mape", .number(mape))])
        if !command.arguments.flag("json") { print(String(format: "MAPE %.2f%%", mape)) }
    }
}

extension Model {
    /// Mean squared error of a regressor's outputs against `batch`'s value targets.
    func meanSquaredError(_ batch: SequenceBatch, threads: Int?) throws -> Double {
        guard case .values(let targets) = batch.targets else { preconditionFailure("needs value targets") }
        var unlabelled = batch
        unlabelled.targets = nil
        var errors = RegressionScores()
        for (prediction, target) in zip(try outputs(for: unlabelled, threads: threads), targets) {
            errors.add(predicted: prediction, actual: target)
        }
        return errors.meanSquaredError
    }
}
