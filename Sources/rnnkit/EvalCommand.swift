import Foundation
import RNNKit

/// `rnnkit eval`: scores a model on a data set without changing it.
///
/// What is scored follows from the data: a classifier's loss, accuracy and
/// confusion matrix (`.ts` sets, tensor data sets with integer targets); a
/// regressor's mean squared error, RMSE and MAE (tensor data sets with float
/// targets, one-step-ahead forecasts of a CSV series); a character model's
/// loss per character (text).
struct EvalCommand: Command {
    static let name = "eval"
    static let summary = "score a model on a data set: loss and accuracy, confusion matrix, or errors"
    static let usage = "--model FILE --data FILE [--plot FILE.svg] [--json]"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "model file (safetensors)"),
        .value("data", "FILE", "a .ts classification set, a CSV series, a safetensors tensor data set, or a UTF-8 text"),
        .value("plot", "FILE", "classifiers: where to write the confusion matrix heat map (default MODEL.confusion.svg)"),
        .flag("no-plot", "do not write the heat map"),
        .value("test-count", "N", "CSV series: score one-step-ahead forecasts of the last N values (default: the model's --test-count)"),
        .flag("all", "text: score the whole file instead of its last 10%"),
        .value("seq-len", "N", "text: characters per scored window (default 100)"),
        .threads,
        .json,
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
        let kind = dataURL.pathExtension.lowercased()
        if kind != "ts" && kind != "safetensors", arguments.has("plot") || arguments.flag("no-plot") {
            throw UsageError("--\(arguments.has("plot") ? "plot" : "no-plot") applies to classifiers, scored on .ts or safetensors data")
        }
        let (model, metadata) = try readModel(modelURL)
        if kind != "csv", arguments.has("test-count") { throw UsageError("--test-count applies to a CSV series") }
        if model.configuration.vocabulary.isEmpty || ["ts", "csv", "safetensors"].contains(kind), arguments.has("seq-len") || arguments.flag("all") {
            throw UsageError("--\(arguments.has("seq-len") ? "seq-len" : "all") applies to a character model scored on text")
        }
        switch kind {
        case "ts": try evaluateTimeSeries(model, metadata: metadata, modelURL: modelURL, data: dataURL)
        case "csv": try evaluateForecasts(model, metadata: metadata, data: dataURL)
        case "safetensors": try evaluateTensors(model, metadata: metadata, modelURL: modelURL, data: dataURL)
        default:
            guard !model.configuration.vocabulary.isEmpty else {
                throw UsageError("\(dataURL.lastPathComponent) is not a .ts, .csv or .safetensors data set, and \(modelURL.lastPathComponent) is not a character model to score text with")
            }
            try evaluateText(model, data: dataURL)
        }
    }

    // MARK: Classifiers

    private func evaluateTimeSeries(_ model: Model, metadata: DataMetadata, modelURL: URL, data: URL) throws {
        if try metadata.scaling == nil, !arguments.flag("json") {
            standardError("note: \(modelURL.lastPathComponent) records no feature_scaling; scoring the values unscaled")
        }
        let set = try TimeSeriesClassificationSet.read(data, for: model, metadata: metadata)
        let scores = try model.classificationScores(set.modelBatch(for: model, metadata: metadata), classNames: set.outputNames(for: model), threads: try threads)
        try report(scores, modelURL: modelURL, what: "\(data.lastPathComponent): \(set.count) cases, \(set.classNames.count) classes")
    }

    private func report(_ scores: ClassificationScores, modelURL: URL, what: String) throws {
        var plot: URL?
        if !arguments.flag("no-plot") {
            let url = arguments.string("plot").map { URL(fileURLWithPath: $0) }
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
        print(String(format: "loss %.4f, accuracy %.4f (%d of %d)", scores.loss, scores.accuracy, scores.correct, scores.count))
    }

    // MARK: Tensor data sets

    private func evaluateTensors(_ model: Model, metadata: DataMetadata, modelURL: URL, data: URL) throws {
        let dataset = try TensorDataset(contentsOf: data)
        try dataset.check(fits: model.configuration)
        var batch = dataset.batch
        batch.targets = nil
        let outputs = try model.outputs(for: batch, threads: try threads)
        let width = model.configuration.outputSize
        let length = { (row: Int) in dataset.lengths.map { Int($0[row]) } ?? dataset.timeSteps }
        switch dataset.targets {
        case .classes(let labels), .sequenceClasses(let labels):
            let names = try metadata.strings(DataMetadata.Key.classNames).flatMap { $0.count == width ? $0 : nil }
                ?? (0..<width).map(String.init)
            var scores = ClassificationScores(classNames: names)
            let perStep = labels.count != dataset.count
            for row in 0..<dataset.count {
                for step in 0..<(perStep ? length(row) : 1) {
                    let position = perStep ? row * dataset.timeSteps + step : row
                    scores.add(logits: outputs[(position * width)..<((position + 1) * width)], label: Int(labels[position]))
                }
            }
            try report(scores, modelURL: modelURL, what: "\(data.lastPathComponent): \(scores.count) \(perStep ? "steps" : "sequences"), \(width) classes")
        case .vectors(let targets, _), .sequences(let targets, _):
            if arguments.has("plot") || arguments.flag("no-plot") { throw UsageError("--plot applies to classifiers; this model is a regressor") }
            var errors = RegressionScores()
            let perStep = targets.count != dataset.count * width
            for row in 0..<dataset.count {
                for step in 0..<(perStep ? length(row) : 1) {
                    let position = perStep ? row * dataset.timeSteps + step : row
                    for unit in 0..<width { errors.add(predicted: outputs[position * width + unit], actual: targets[position * width + unit]) }
                }
            }
            reportErrors(errors, what: "\(data.lastPathComponent): \(dataset.count) sequences, \(errors.count) values", extra: [])
        }
    }

    private func reportErrors(_ errors: RegressionScores, what: String, extra: [(String, JSONValue)]) {
        if arguments.flag("json") {
            printJSON([("loss", .number(errors.meanSquaredError)), ("mse", .number(errors.meanSquaredError)),
                       ("rmse", .number(errors.rootMeanSquaredError)), ("mae", .number(errors.meanAbsoluteError)),
                       ("count", .integer(errors.count))] + extra)
            return
        }
        print(what)
        print(String(format: "loss (mean squared error) %.6g, RMSE %.6g, MAE %.6g", errors.meanSquaredError,
                     errors.rootMeanSquaredError, errors.meanAbsoluteError))
    }

    // MARK: Forecasting series

    /// One-step-ahead forecasts of the last values, each from the actual
    /// values before it, in data units.
    private func evaluateForecasts(_ model: Model, metadata: DataMetadata, data: URL) throws {
        let forecaster = try Forecaster(model: model, metadata: metadata)
        let series = try ForecastingSeries(contentsOf: data)
        try forecaster.check(series)
        let testCount = try arguments.integer("test-count", default: forecaster.defaultSteps)!
        let first = series.length - testCount
        guard first >= forecaster.historyNeeded else {
            throw UsageError("\(data.lastPathComponent) has \(series.length) rows; scoring the last \(testCount) needs \(forecaster.historyNeeded) before them")
        }
        let predicted = try forecaster.oneStepAhead(series.values, targets: first..<series.length, threads: try threads)
        let actual = Array(series.values[(first * series.columnCount)...])
        var errors = RegressionScores()
        for (value, prediction) in zip(actual, predicted) { errors.add(predicted: prediction, actual: value) }
        let mape = meanAbsolutePercentageError(actual: actual, predicted: predicted)
        let what = "\(data.lastPathComponent): one-step-ahead forecasts of the last \(testCount) values (\(series.timestamps[first]) to \(series.timestamps.last!)), each from the actual values before it"
        reportErrors(errors, what: what, extra: [("mape", .number(mape))])
        if !arguments.flag("json") { print(String(format: "MAPE %.2f%%", mape)) }
    }

    // MARK: Text

    /// The loss per character of a character model, on consecutive windows.
    private func evaluateText(_ model: Model, data: URL) throws {
        let corpus = try TextCorpus(contentsOf: data)
        var index: [Character: Int32] = [:]
        for (token, character) in model.configuration.vocabulary.enumerated() { index[character] = Int32(token) }
        let mapping = corpus.vocabulary.map { index[$0] }
        let range = arguments.flag("all") ? 0..<corpus.tokens.count : corpus.split(validationFraction: 0.1).validation
        guard range.count >= 2 else { throw UsageError("\(data.lastPathComponent): too little text to score (\(range.count) characters)") }
        let tokens = try corpus.tokens[range].enumerated().map { offset, token -> Int32 in
            guard let mapped = mapping[Int(token)] else {
                throw DatasetError.unknownCharacter(source: data.path, character: corpus.vocabulary[Int(token)], offset: range.lowerBound + offset)
            }
            return mapped
        }
        let length = min(try arguments.integer("seq-len", default: 100)!, tokens.count - 1)
        let starts = Array(stride(from: 0, through: tokens.count - length - 1, by: length))
        var inputs: [Int32] = [], targets: [Int32] = []
        for start in starts {
            inputs += tokens[start..<(start + length)]
            targets += tokens[(start + 1)..<(start + length + 1)]
        }
        let batch = SequenceBatch(count: starts.count, timeSteps: length, inputs: .tokens(inputs), targets: .classes(targets))
        let loss = try Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: try threads).loss(batch)
        let scored = starts.count * length
        if arguments.flag("json") {
            printJSON([("loss", .number(loss)), ("bits_per_char", .number(loss / log(2))), ("characters", .integer(scored))])
            return
        }
        print("\(data.lastPathComponent): \(arguments.flag("all") ? "the whole text" : "the last 10%"), \(scored) characters in \(starts.count) windows of \(length)")
        print(String(format: "loss %.4f nats per character (%.4f bits)", loss, loss / log(2)))
    }
}
