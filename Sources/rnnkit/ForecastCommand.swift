import CommandLineOptions
import Foundation
import RNNKit

/// `rnnkit forecast`: forecasts a CSV series with a model `train` fitted to
/// it, past the end of the series or over its held-out last values.
struct ForecastCommand: Command {
    static let name = "forecast"
    static let summary = "forecast a CSV series with a model trained on it"
    static let usage = "--model FILE --data SERIES.csv [--steps N | --test-count N] [--out FILE.csv]"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "a model written by `rnnkit train --data SERIES.csv`"),
        .value("data", "FILE", "the series: a CSV file with the columns the model was trained on"),
        .value(
            "steps", "N",
            "values to forecast past the end of the series, at most a million (default: the model's --test-count, or "
                + "its season)",
            integers: 1...1_000_000),
        .value("test-count", "N", "instead, forecast the last N values from the ones before and score the forecast"),
        .value("season", "N", "season length of the seasonal-naive baseline (default: the model's, 12)"),
        .value("out", "FILE", "CSV file to write (default MODEL.forecast.csv); the chart goes beside it as .svg"),
        .flag("no-plot", "do not write the chart"),
        .threads,
        .json
    ]
    static let notes = """
        The model reads the series as it was trained to (window, transform and scaling are in its file) and
        forecasts one horizon at a time, feeding its predictions back as inputs. With --test-count the forecast
        starts that many values before the end and is scored against them (MAPE), beside the seasonal-naive
        forecast that repeats the last observed season.
        """

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    func run() throws {
        let modelURL = try requiredPath(arguments, "model")
        let dataURL = try requiredPath(arguments, "data")
        if arguments.has("steps") && arguments.has("test-count") {
            throw UsageError(
                "use --steps to forecast past the end or --test-count to forecast held-out values, not both")
        }
        let out =
            arguments.string("out").map { URL(fileURLWithPath: $0) }
            ?? modelURL.deletingPathExtension().appendingPathExtension("forecast.csv")
        let plot = arguments.flag("no-plot") ? nil : out.deletingPathExtension().appendingPathExtension("svg")
        try checkOutputs([out, plot], inputs: [modelURL, dataURL])
        let testCount = try arguments.integer("test-count"), requestedSteps = try arguments.integer("steps")
        let (model, metadata) = try readModel(modelURL)
        var forecaster = try Forecaster(model: model, metadata: metadata)
        forecaster.season = try arguments.integer("season", default: forecaster.season)!
        let series = try ForecastingSeries(contentsOf: dataURL)
        try forecaster.check(series)
        let threads = try arguments.integer("threads")
        let c = series.columnCount

        let steps = testCount ?? requestedSteps ?? forecaster.defaultSteps
        let historyRows = series.length - (testCount ?? 0)
        guard historyRows >= forecaster.historyNeeded else {
            throw UsageError(
                "\(dataURL.lastPathComponent) has \(series.length) "
                    + "rows\(testCount.map { "; holding out \($0) leaves \(historyRows)" } ?? ""), but the model reads "
                    + "\(forecaster.historyNeeded) to forecast"
            )
        }
        let history = Array(series.values[..<(historyRows * c)])
        let predicted = try forecaster.forecast(after: history, steps: steps, threads: threads)
        let naive =
            historyRows >= forecaster.season
            ? Forecaster.seasonalNaive(after: history, columns: c, steps: steps, season: forecaster.season) : nil

        try forecaster.writeForecast(
            of: series, after: historyRows, predicted: predicted, naive: naive, csv: out, svg: plot)

        let stamps = forecaster.timestamps(of: series, after: historyRows, count: steps)
        var fields: [(String, JSONValue)] = [
            ("steps", .integer(steps)), ("timestamps", .array(stamps.map { .string($0) })),
            ("predicted", .array(predicted.map { .number(Double($0)) })),
            ("forecast", .string(out.path)), ("plot", plot.map { .string($0.path) } ?? .null)
        ]
        var scoreLine: String?
        if testCount != nil {
            let actual = Array(series.values[(historyRows * c)...])
            let mape = meanAbsolutePercentageError(actual: actual, predicted: predicted)
            let naiveMAPE = naive.map { meanAbsolutePercentageError(actual: actual, predicted: $0) } ?? .nan
            fields += [("mape", .number(mape)), ("seasonal_naive_mape", .number(naiveMAPE))]
            scoreLine = String(
                format: "forecast of the last %d values: MAPE %.2f%%, seasonal naive (season %d) %.2f%%",
                steps, mape, forecaster.season, naiveMAPE)
        }
        if arguments.flag("json") {
            printJSON(fields)
            return
        }
        let known = testCount != nil
        let width = max(series.timestampColumn.count, stamps.map(\.count).max() ?? 0)
        let header =
            [series.timestampColumn.padding(toLength: width, withPad: " ", startingAt: 0)]
            + series.columnNames.flatMap { known ? ["\($0) actual", "predicted"] : ["\($0) predicted"] }
        print(header.joined(separator: "  "))
        for (row, stamp) in stamps.enumerated() {
            var cells = [stamp.padding(toLength: width, withPad: " ", startingAt: 0)]
            for column in 0..<c {
                let index = row * c + column
                if known {
                    cells.append(
                        String(
                            format: "%*.6g", series.columnNames[column].count + 7,
                            series.values[historyRows * c + index]))
                }
                cells.append(
                    String(format: "%*.6g", known ? 9 : series.columnNames[column].count + 10, predicted[index]))
            }
            print(cells.joined(separator: "  "))
        }
        print("wrote \(out.path)" + (plot.map { " and \($0.path)" } ?? ""))
        if let scoreLine { print(scoreLine) }
    }
}

extension Forecaster {
    /// The timestamps of `count` rows from row `start` of `series`: its own
    /// where it has them, continued past its end.
    func timestamps(of series: ForecastingSeries, after start: Int, count: Int) -> [String] {
        let known = Array(series.timestamps[min(start, series.length)..<min(start + count, series.length)])
        return known + continuedTimestamps(after: series.timestamps, count: count - known.count)
    }

    /// Writes a forecast of the rows after row `start` of `series` as CSV
    /// (timestamp, then each column's actual value where known and its
    /// forecast) and, unless `svg` is nil, a chart of the series with the
    /// forecast and the seasonal-naive one.
    func writeForecast(
        of series: ForecastingSeries, after start: Int, predicted: [Float], naive: [Float]?,
        csv: URL, svg: URL?
    ) throws {
        let c = series.columnCount
        let steps = predicted.count / c
        let stamps = timestamps(of: series, after: start, count: steps)
        let known = start + steps <= series.length
        try ForecastingSeries.writeCSV(
            to: csv, timestamps: stamps, timestampColumn: series.timestampColumn,
            columnNames: series.columnNames,
            actual: known ? Array(series.values[(start * c)..<((start + steps) * c)]) : nil,
            predicted: predicted)
        guard let svg else { return }
        // The first column only: several series on one axis would not share a scale.
        let (x, xLabel) = timeAxis(series.timestamps + Array(stamps.dropFirst(max(0, series.length - start))))
        let actual = (0..<series.length).map { (x[$0], Double(series.values[$0 * c])) }
        // Forecasts start from the last value they were made after, so the lines join.
        let joint = start > 0 ? [(x[start - 1], Double(series.values[(start - 1) * c]))] : []
        let forecast = joint + (0..<steps).map { (x[start + $0], Double(predicted[$0 * c])) }
        var lines = [
            LineChart.Series(name: "actual", points: actual, color: LineChart.palette[0]),
            LineChart.Series(name: "forecast", points: forecast, color: LineChart.palette[1])
        ]
        if let naive {
            lines.append(
                .init(
                    name: "seasonal naive", points: joint + (0..<steps).map { (x[start + $0], Double(naive[$0 * c])) },
                    color: "#aaaaaa"))
        }
        let title =
            "\(series.columnNames[0]) of \(URL(fileURLWithPath: series.source).lastPathComponent): forecast of "
            + "\(steps) value\(steps == 1 ? "" : "s")"
        try writeAtomically(
            LineChart(title: title, xLabel: xLabel, yLabel: series.columnNames[0], series: lines).svg(), to: svg)
    }
}
