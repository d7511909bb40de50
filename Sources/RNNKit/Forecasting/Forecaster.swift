import Foundation

/// How a forecasting model reads a series and how its outputs become values
/// again: the window it reads, the steps it predicts, the transform and the
/// scaling, all recorded in its model file so that the `forecast` and `eval`
/// commands prepare a series exactly as `train` did.
///
/// The model reads `window` rows of the transformed, scaled series and
/// predicts the next `horizon` rows (all columns); a longer forecast feeds
/// its own predictions back as inputs.
public struct Forecaster: Sendable {
    /// What the model reads instead of the raw values.
    public enum Transform: String, CaseIterable, Sendable {
        /// The values themselves.
        case none
        /// Each value minus the one before: a trend becomes a level.
        case difference = "diff"
        /// The log of each value over the one before (positive series): a
        /// growth that multiplies the seasonal swing becomes a level too.
        case logDifference = "logdiff"

        /// Rows consumed before the first transformed row.
        public var lag: Int { self == .none ? 0 : 1 }
    }

    public var model: Model
    public var window: Int
    public var horizon: Int
    public var transform: Transform
    /// Fitted on the transformed training rows.
    public var scaling: FeatureScaling
    public var columns: [String]
    public var timestampColumn: String
    public var season: Int
    /// The values held out in training (0 if none).
    public var testCount: Int
    /// How many values `forecast` and `eval` take by default: the held-out count, or a season.
    public var defaultSteps: Int { testCount > 0 ? testCount : season }

    public var columnCount: Int { columns.count }

    // MARK: Metadata

    /// A forecaster from a model file written by `rnnkit train --data X.csv`.
    public init(model: Model, metadata: DataMetadata) throws {
        typealias Key = DataMetadata.Key
        guard metadata.kind == .forecasting else {
            throw ModelError.metadata(
                key: Key.kind,
                problem:
                    "is '\(metadata.entries[Key.kind] ?? "")', not 'forecasting': this model was not trained by "
                    + "`rnnkit train --data SERIES.csv`",
                source: metadata.source)
        }
        let transformName = try metadata.required(Key.transform, metadata.entries[Key.transform])
        guard let transform = Transform(rawValue: transformName) else {
            throw ModelError.metadata(
                key: Key.transform,
                problem:
                    "must be one of \(Transform.allCases.map(\.rawValue).joined(separator: ", ")), got "
                    + "'\(transformName)'",
                source: metadata.source)
        }
        self.init(
            model: model, window: try metadata.required(Key.window, try metadata.integer(Key.window)),
            horizon: try metadata.required(Key.horizon, try metadata.integer(Key.horizon)), transform: transform,
            scaling: try metadata.required(Key.scaling, try metadata.scaling),
            columns: try metadata.required(Key.columns, try metadata.strings(Key.columns)),
            timestampColumn: metadata.entries[Key.timestampColumn] ?? "timestamp",
            season: try metadata.integer(Key.season) ?? 12,
            testCount: try metadata.integer(Key.testCount, minimum: 0) ?? 12)
        let c = model.configuration
        guard c.topology == .manyToOne, c.input == .dense(features: columnCount), c.outputSize == horizon * columnCount,
            scaling.features == columnCount
        else {
            throw ModelError.metadata(
                key: Key.window,
                problem:
                    "does not match the model: \(c.topology.rawValue) with \(c.input.rnnInputSize) inputs and "
                    + "\(c.outputSize) outputs for \(columnCount) columns and horizon \(horizon)",
                source: metadata.source)
        }
    }

    public init(
        model: Model, window: Int, horizon: Int, transform: Transform, scaling: FeatureScaling, columns: [String],
        timestampColumn: String, season: Int, testCount: Int
    ) {
        (self.model, self.window, self.horizon, self.transform, self.scaling) = (
            model, window, horizon, transform, scaling
        )
        (self.columns, self.timestampColumn, self.season, self.testCount) = (
            columns, timestampColumn, season, testCount
        )
    }

    /// Records these settings in `metadata`, for the model file.
    public func write(into metadata: inout DataMetadata) {
        typealias Key = DataMetadata.Key
        metadata.entries[Key.kind] = DataMetadata.Kind.forecasting.rawValue
        metadata.entries[Key.window] = String(window)
        metadata.entries[Key.horizon] = String(horizon)
        metadata.entries[Key.transform] = transform.rawValue
        metadata.entries[Key.season] = String(season)
        metadata.entries[Key.testCount] = String(testCount)
        metadata.entries[Key.timestampColumn] = timestampColumn
        metadata.setStrings(Key.columns, columns)
        metadata.setScaling(scaling)
    }

    /// The rows of history one forecast needs.
    public var historyNeeded: Int { window + transform.lag }

    // MARK: Transform

    /// `rows` rows of values (`[rows, columns]`) transformed: `rows - lag` rows,
    /// row `k` standing for value row `k + lag`.
    public static func transformed(_ values: ArraySlice<Float>, columns: Int, transform: Transform) -> [Float] {
        let start = values.startIndex
        switch transform {
        case .none:
            return Array(values)
        case .difference:
            return (start + columns..<values.endIndex).map { values[$0] - values[$0 - columns] }
        case .logDifference:
            return (start + columns..<values.endIndex).map { log(values[$0] / values[$0 - columns]) }
        }
    }

    /// The value that follows `previous` when the transform of it is `change`.
    public func untransform(_ change: Float, after previous: Float) -> Float {
        switch transform {
        case .none: change
        case .difference: previous + change
        case .logDifference: previous * exp(change)
        }
    }

    /// The model's input for the rows just after `history` (`[rows, columns]`, data units).
    private func input(after history: ArraySlice<Float>) throws -> [Float] {
        let needed = historyNeeded * columnCount
        precondition(history.count >= needed, "forecast history too short")
        return try scaling.scale(Self.transformed(history.suffix(needed), columns: columnCount, transform: transform))
    }

    // MARK: Forecasts

    /// `steps` rows forecast after `history` (`[rows, columns]`, data units,
    /// at least `historyNeeded` rows): `horizon` rows at a time, each
    /// prediction fed back as the input of the next.
    public func forecast(after history: [Float], steps: Int, threads: Int? = nil) throws -> [Float] {
        var values = history
        let predictor = Predictor(model: model, threads: threads)
        while values.count < history.count + steps * columnCount {
            let batch = SequenceBatch(count: 1, timeSteps: window, inputs: .features(try input(after: values[...])))
            let changes = try scaling.unscale(try predictor.outputs(for: batch))
            for change in changes.indices where values.count < history.count + steps * columnCount {
                values.append(untransform(changes[change], after: values[values.count - columnCount]))
            }
        }
        return Array(values[history.count...])
    }

    /// One-step-ahead predictions of the rows `targets` of `values`
    /// (`[rows, columns]`), each from the actual rows before it: what a
    /// forecast one step out would have said, for scoring the model itself.
    public func oneStepAhead(_ values: [Float], targets: Range<Int>, threads: Int? = nil) throws -> [Float] {
        let c = columnCount
        var inputs: [Float] = []
        for row in targets { inputs += try input(after: values[..<(row * c)]) }
        let batch = SequenceBatch(count: targets.count, timeSteps: window, inputs: .features(inputs))
        let outputs = try model.outputs(for: batch, threads: threads)
        var predictions: [Float] = []
        for (index, row) in targets.enumerated() {
            let changes = try scaling.unscale(Array(outputs[(index * horizon * c)..<(index * horizon * c + c)]))
            for column in 0..<c {
                predictions.append(untransform(changes[column], after: values[(row - 1) * c + column]))
            }
        }
        return predictions
    }

    /// The seasonal-naive forecast of `steps` rows after `history`: each row
    /// repeats the same season's last observed row.
    public static func seasonalNaive(after history: [Float], columns: Int, steps: Int, season: Int) -> [Float] {
        let rows = history.count / columns
        return (0..<steps).flatMap { step -> [Float] in
            let source = rows - season + step % season
            return Array(history[(source * columns)..<((source + 1) * columns)])
        }
    }
}
