import CommandLineOptions
import Foundation
import RNNKit

/// `rnnkit eval`: scores a model on a data set without changing it.
///
/// What is scored follows from the data: a classifier's loss, accuracy and
/// confusion matrix (`.ts` sets, tensor data sets with integer targets); a
/// regressor's mean squared error, RMSE and MAE (tensor data sets with float
/// targets, one-step-ahead forecasts of a CSV series); a character model's
/// loss per character (text).
struct EvalCommand: DataKindCommand {
    static let name = "eval"
    static let summary = "score a model on a data set: loss and accuracy, confusion matrix, or errors"
    static let usage = "--model FILE --data FILE [--plot FILE.svg] [--json]"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "model file (safetensors)"),
        .value(
            "data", "FILE", "a .ts classification set, a CSV series, a safetensors tensor data set, or a UTF-8 text"),
        .threads,
        .json
    ]
    static var dataKinds: [any DataKind.Type] { [TensorData.self, TimeSeriesData.self, SeriesData.self, TextData.self] }
    static func kindOptions(_ kind: any DataKind.Type) -> [OptionSpec] { kind.evalOptions }

    /// The options of the kinds scored as classifiers.
    static let confusionPlotOptions: [OptionSpec] = [
        .value("plot", "FILE", "where to write the confusion matrix heat map (default MODEL.confusion.svg)"),
        .flag("no-plot", "do not write the heat map")
    ]
    static let notes = """
        A .ts set is read with the model's class numbering and scaled with the mean and deviation stored at
        training. Losses are the training losses: mean cross-entropy in nats, or mean squared error (for a CSV
        series, of one-step-ahead forecasts in the series' own units).
        --json prints the figures (loss, accuracy, confusion, classes; or mse, rmse, mae) as the last line of stdout.
        """

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    var threads: Int? { get throws { try arguments.integer("threads") } }

    func run() throws {
        let modelURL = try requiredPath(arguments, "model")
        let dataURL = try requiredPath(arguments, "data")
        let kind = Self.kind(of: dataURL.path)
        try Self.check(arguments, against: kind)
        let (model, metadata) = try readModel(modelURL)
        try kind.evaluate(self, model: model, metadata: metadata, modelURL: modelURL, data: dataURL)
    }

    // MARK: Reports

    /// Writes the confusion matrix heat map unless --no-plot, then prints the scores.
    func report(_ scores: ClassificationScores, modelURL: URL, what: String) throws {
        var plot: URL?
        if !arguments.flag("no-plot") {
            let url =
                arguments.string("plot").map { URL(fileURLWithPath: $0) }
                ?? modelURL.deletingPathExtension().appendingPathExtension("confusion.svg")
            try checkOutputs([url], inputs: [modelURL, arguments.string("data").map { URL(fileURLWithPath: $0) }])
            var heatmap = scores.heatmap
            heatmap.title = String(format: "%@: accuracy %.4f", modelURL.lastPathComponent, scores.accuracy)
            try writeAtomically(heatmap.svg(), to: url)
            plot = url
        }
        if arguments.flag("json") {
            printJSON(scores.jsonFields + [("plot", plot.map { .string($0.path) } ?? .null)])
            return
        }
        print(what)
        print(scores.table())
        if let plot { print("wrote \(plot.path)") }
        print(
            String(
                format: "loss %.4f, accuracy %.4f (%d of %d)", scores.loss, scores.accuracy, scores.correct,
                scores.count))
    }

    /// Prints a regressor's errors, or with --json their figures and `extra`.
    func reportErrors(_ errors: RegressionScores, what: String, extra: [(String, JSONValue)]) {
        if arguments.flag("json") {
            printJSON(
                [
                    ("loss", .number(errors.meanSquaredError)), ("mse", .number(errors.meanSquaredError)),
                    ("rmse", .number(errors.rootMeanSquaredError)), ("mae", .number(errors.meanAbsoluteError)),
                    ("count", .integer(errors.count))
                ] + extra)
            return
        }
        print(what)
        print(
            String(
                format: "loss (mean squared error) %.6g, RMSE %.6g, MAE %.6g", errors.meanSquaredError,
                errors.rootMeanSquaredError, errors.meanAbsoluteError))
    }
}
