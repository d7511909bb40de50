import Foundation
import RNNKit

/// How a forecasting model reads a series and how its outputs become values
/// again: the window it reads, the steps it predicts, the transform and the
/// scaling, all recorded in its model file so that `forecast` and `eval`
/// prepare a series exactly as `train` did.
///
/// The model reads `window` rows of the transformed, scaled series and
/// predicts the next `horizon` rows (all columns); a longer forecast feeds
/// its own predictions back as inputs.
struct Forecaster {
    /// What the model reads instead of the raw values.
    enum Transform: String, CaseIterable {
        /// The values themselves.
        case none
        /// Each value minus the one before: a trend becomes a level.
        case difference = "diff"
        /// The log of each value over the one before (positive series): a
        /// growth that multiplies the seasonal swing becomes a level too.
        case logDifference = "logdiff"

        /// Rows consumed before the first transformed row.
        var lag: Int { self == .none ? 0 : 1 }
    }

    var model: Model
    var window: Int
    var horizon: Int
    var transform: Transform
    /// Fitted on the transformed training rows.
    var scaling: FeatureScaling
    var columns: [String]
    var timestampColumn: String
    var season: Int
    /// The values held out in training (0 if none).
    var testCount: Int
    /// How many values `forecast` and `eval` take by default: the held-out count, or a season.
    var defaultSteps: Int { testCount > 0 ? testCount : season }

    var columnCount: Int { columns.count }

    // MARK: Metadata

    /// A forecaster from a model file written by `rnnkit train --data X.csv`.
    init(model: Model, metadata: DataMetadata) throws {
        typealias Key = DataMetadata.Key
        guard metadata.kind == .forecasting else {
            throw ModelError.metadata(key: Key.kind, problem: "is '\(metadata.entries[Key.kind] ?? "")', not 'forecasting': this model was not trained by `rnnkit train --data SERIES.csv`",
                                      source: metadata.source)
        }
        let transformName = try metadata.required(Key.transform, metadata.entries[Key.transform])
        guard let transform = Transform(rawValue: transformName) else {
            throw ModelError.metadata(key: Key.transform, problem: "must be one of \(Transform.allCases.map(\.rawValue).joined(separator: ", ")), got '\(transformName)'",
                                      source: metadata.source)
        }
        self.init(model: model, window: try metadata.required(Key.window, try metadata.integer(Key.window)),
                  horizon: try metadata.required(Key.horizon, try metadata.integer(Key.horizon)), transform: transform,
                  scaling: try metadata.required(Key.scaling, try metadata.scaling),
                  columns: try metadata.required(Key.columns, try metadata.strings(Key.columns)),
                  timestampColumn: metadata.entries[Key.timestampColumn] ?? "timestamp",
                  season: try metadata.integer(Key.season) ?? 12, testCount: try metadata.integer(Key.testCount, minimum: 0) ?? 12)
        let c = model.configuration
        guard c.topology == .manyToOne, c.input == .dense(features: columnCount), c.outputSize == horizon * columnCount,
              scaling.features == columnCount else {
            throw ModelError.metadata(key: Key.window, problem: "does not match the model: \(c.topology.rawValue) with \(c.input.rnnInputSize) inputs and \(c.outputSize) outputs for \(columnCount) columns and horizon \(horizon)",
                                      source: metadata.source)
        }
    }

    init(model: Model, window: Int, horizon: Int, transform: Transform, scaling: FeatureScaling, columns: [String],
         timestampColumn: String, season: Int, testCount: Int) {
        (self.model, self.window, self.horizon, self.transform, self.scaling) = (model, window, horizon, transform, scaling)
        (self.columns, self.timestampColumn, self.season, self.testCount) = (columns, timestampColumn, season, testCount)
    }

    func write(into metadata: inout DataMetadata) {
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

    /// Checks that `series` has the columns this model forecasts.
    func check(_ series: ForecastingSeries) throws {
        guard series.columnNames == columns else {
            throw UsageError("\(series.source) has value columns \(series.columnNames), the model forecasts \(columns)")
        }
        if transform == .logDifference, let bad = series.values.firstIndex(where: { $0 <= 0 }) {
            throw UsageError("\(series.source): row \(bad / columnCount + 1) holds \(series.values[bad]), but the model forecasts log differences of positive values")
        }
    }

    /// The rows of history one forecast needs.
    var historyNeeded: Int { window + transform.lag }

    // MARK: Transform

    /// `rows` rows of values (`[rows, columns]`) transformed: `rows - lag` rows,
    /// row `k` standing for value row `k + lag`.
    static func transformed(_ values: ArraySlice<Float>, columns: Int, transform: Transform) -> [Float] {
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
    func untransform(_ change: Float, after previous: Float) -> Float {
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
    func forecast(after history: [Float], steps: Int, threads: Int? = nil) throws -> [Float] {
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
    func oneStepAhead(_ values: [Float], targets: Range<Int>, threads: Int? = nil) throws -> [Float] {
        let c = columnCount
        var inputs: [Float] = []
        for row in targets { inputs += try input(after: values[..<(row * c)]) }
        let batch = SequenceBatch(count: targets.count, timeSteps: window, inputs: .features(inputs))
        let outputs = try model.outputs(for: batch, threads: threads)
        var predictions: [Float] = []
        for (index, row) in targets.enumerated() {
            let changes = try scaling.unscale(Array(outputs[(index * horizon * c)..<(index * horizon * c + c)]))
            for column in 0..<c { predictions.append(untransform(changes[column], after: values[(row - 1) * c + column])) }
        }
        return predictions
    }

    /// The seasonal-naive forecast of `steps` rows after `history`: each row
    /// repeats the same season's last observed row.
    static func seasonalNaive(after history: [Float], columns: Int, steps: Int, season: Int) -> [Float] {
        let rows = history.count / columns
        return (0..<steps).flatMap { step -> [Float] in
            let source = rows - season + step % season
            return Array(history[(source * columns)..<((source + 1) * columns)])
        }
    }
}

// MARK: - Timestamps

/// Timestamps as numbers for a chart's x axis: `1949-03` becomes 1949.17,
/// `2024-05-17` 2024.37, a plain number itself; anything else the row number.
func timeAxis(_ timestamps: [String]) -> (values: [Double], label: String) {
    func decimalYear(_ text: String) -> Double? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]),
              (1...12).contains(month) else { return nil }
        let day = parts.count == 3 ? Int(parts[2].prefix(2)) : 1
        guard let day, (1...31).contains(day) else { return nil }
        return Double(year) + (Double(month - 1) + Double(day - 1) / 31) / 12
    }
    if case let years = timestamps.compactMap(decimalYear), years.count == timestamps.count { return (years, "year") }
    if case let numbers = timestamps.compactMap({ Double($0) }), numbers.count == timestamps.count { return (numbers, "time") }
    return (timestamps.indices.map(Double.init), "row")
}

/// The `count` timestamps after a series' last ones: months after `YYYY-MM`,
/// days after `YYYY-MM-DD` (by the last gap in days), numbers by the last
/// difference; otherwise `+1`, `+2`, ….
func continuedTimestamps(after timestamps: [String], count: Int) -> [String] {
    guard let last = timestamps.last else { return (1..<(count + 1)).map { "+\($0)" } }
    let parts = last.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
    if parts.count == 2, let year = parts[0], let month = parts[1], (1...12).contains(month), last.count == 7 {
        return (1..<(count + 1)).map { step in
            let index = year * 12 + month - 1 + step
            return String(format: "%04d-%02d", index / 12, index % 12 + 1)
        }
    }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd"
    if last.count == 10, let date = formatter.date(from: last) {
        let previous = timestamps.dropLast().last.flatMap { formatter.date(from: $0) }
        let gap = previous.map { max(86_400, (date.timeIntervalSince($0) / 86_400).rounded() * 86_400) } ?? 86_400
        return (1..<(count + 1)).map { formatter.string(from: date.addingTimeInterval(gap * Double($0))) }
    }
    if let value = Int(last) {
        let step = timestamps.dropLast().last.flatMap { Int($0) }.map { value - $0 } ?? 1
        return (1..<(count + 1)).map { String(value + step * $0) }
    }
    if let value = Double(last) {
        let step = timestamps.dropLast().last.flatMap { Double($0) }.map { value - $0 } ?? 1
        return (1..<(count + 1)).map { "\(value + step * Double($0))" }
    }
    return (1..<(count + 1)).map { "\(last)+\($0)" }
}
