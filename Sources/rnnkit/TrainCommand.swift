import Foundation
import RNNKit

/// `rnnkit train`: fits a model to a data set, writes it with its loss curve.
///
/// The kind of data follows from the file: `.safetensors` tensor data sets,
/// anything else plain UTF-8 text for a character language model. Without
/// `--data` it trains on the embedded Tiny Shakespeare.
struct TrainCommand: Command {
    static let name = "train"
    static let summary = "train a model on a data set and save it"
    static let usage = "[--data FILE] [OPTIONS]"
    static let options: [OptionSpec] = [
        .value("data", "FILE", "training data: a safetensors tensor data set, a UCR/UEA .ts classification set, a CSV series "
               + "to forecast, or a UTF-8 text file (default: Tiny Shakespeare)"),
        .value("init", "MODEL", "start from this model file instead of a fresh model"),
        .value("cell", "KIND", CellKind.allCases.map(\.rawValue).joined(separator: ", ")
               + " (fresh models; lstm_ln is the layer-normalised LSTM; default gru for .ts sets, lstm otherwise)"),
        .value("hidden", "N", "hidden units per layer (default 256 for text, 32 for CSV series, 64 otherwise)"),
        .value("layers", "N", "stacked recurrent layers (default 1)"),
        .flag("bidirectional", "run each layer in both directions"),
        .flag("no-head", "tensor data sets: no output layer; the targets are the top layer's outputs "
              + "(as wide as hidden x directions)"),
        .value("seq-len", "N", "characters per training sequence (text; default 100)"),
        .value("val-split", "X", "fraction held out for validation (default 0.1 for text, 0 otherwise)"),
        .value("patch", "N", ".ts classification: read N consecutive steps as one (default: enough for at most 50 steps)"),
        // Forecasting a CSV series (TrainCommand+Forecasting).
        .value("window", "N", "forecasting: past values each prediction reads (default 24, or half the training rows)"),
        .value("horizon", "N", "forecasting: values each prediction gives, fed back for longer forecasts (default 1)"),
        .value("test-count", "N", "forecasting: hold out the last N values and forecast them (default 12)"),
        .value("season", "N", "forecasting: season length of the seasonal-naive baseline (default 12)"),
        .value("transform", "NAME", "forecasting: what the model reads: diff (differences, default), logdiff or none"),
        .flag("no-averaging", ".ts and CSV data: keep the last step's weights, not their mean over the last quarter of the steps"),
    ] + TrainingPlan.options + [
        .value("seed", "N", "seed for initialisation and shuffling (default 0)"),
        .threads,
        .value("out", "FILE", "where to write the trained model (default model.safetensors)"),
        .flag("no-plot", "do not write the loss curve SVG beside the model"),
        .json,
    ]
    static let notes = """
    Defaults per data: text trains a 1-layer LSTM of 256 units on one-hot characters, batch 64 x 100, Adam 2e-3,
    clipping at 5, for 120 seconds; tensor data sets train a 64-unit LSTM with Adam 1e-3 for 100 steps of 32.
    A UCR/UEA X_TRAIN.ts set trains a 64-unit GRU with Adam 3e-3, weight decay 1e-3 and clipping at 1 for 600 steps
    of 16, and is scored on X_TEST.ts beside it. A CSV series trains a 32-unit LSTM on windows of 24 differences with
    Adam 3e-3 and clipping at 1 for 1000 steps of 16, then forecasts its last 12 values to MODEL.forecast.csv and .svg.
    Both save the mean of the weights over the last quarter of the steps; their weight decay 1e-3 applies to any --optimizer.
    The loss curve goes to MODEL.loss.svg; --json prints a summary object as the last line of stdout.

    """ + TrainingPlan.scheduleNotes

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    var seed: UInt64 { get throws { UInt64(try arguments.integer("seed", default: 0, range: 0...Int.max)!) } }
    var outURL: URL { URL(fileURLWithPath: arguments.string("out") ?? "model.safetensors") }

    // The files a run writes beside its model: named here only, so that the
    // check before training and the writes after it agree.
    private var outStem: URL { outURL.deletingPathExtension() }
    /// The loss curve, unless --no-plot.
    var lossPlotURL: URL? { arguments.flag("no-plot") ? nil : outStem.appendingPathExtension("loss.svg") }
    /// A CSV series' test forecast, and its chart unless --no-plot.
    var forecastURLs: (csv: URL, svg: URL?) {
        (outStem.appendingPathExtension("forecast.csv"), arguments.flag("no-plot") ? nil : outStem.appendingPathExtension("forecast.svg"))
    }
    var checkpointURL: URL {
        arguments.string("checkpoint").map { URL(fileURLWithPath: $0) } ?? outStem.appendingPathExtension("checkpoint.safetensors")
    }

    func run() throws {
        try checkOutputFiles()
        // UCR/UEA classification sets and forecasting series (TrainCommand+TimeSeries, TrainCommand+Forecasting):
        // runs of seconds, without checkpoints, so a signal simply ends them.
        if let path = arguments.string("data"), path.lowercased().hasSuffix(".ts") {
            try trainOnTimeSeries(URL(fileURLWithPath: path))
            return
        }
        if let path = arguments.string("data"), path.lowercased().hasSuffix(".csv") {
            try trainOnForecasting(URL(fileURLWithPath: path))
            return
        }
        try reject(["window", "horizon", "test-count", "season", "transform"], reason: "applies to forecasting, with --data SERIES.csv")
        try reject(["patch"], reason: "applies to .ts classification sets")
        try reject(["no-averaging"], reason: "applies to .ts classification sets and CSV series")
        Interrupts.install()
        if let path = arguments.string("data"), path.lowercased().hasSuffix(".safetensors") {
            try trainOnTensors(URL(fileURLWithPath: path))
        } else {
            try trainOnText(arguments.string("data").map { URL(fileURLWithPath: $0) } ?? EmbeddedCorpus.url())
        }
    }

    /// Refuses, before training, any file the run would write that cannot be
    /// written or would replace its data or its --init model.
    private func checkOutputFiles() throws {
        let data = arguments.string("data").map { URL(fileURLWithPath: $0) }
        var outputs: [URL?] = [outURL, lossPlotURL]
        switch data?.pathExtension.lowercased() {
        case "csv": outputs += [forecastURLs.csv, forecastURLs.svg]
        case "ts": break
        default: outputs.append(checkpointURL)
        }
        try checkOutputs(outputs, inputs: [data, arguments.string("init").map { URL(fileURLWithPath: $0) }])
    }

    // MARK: Tensor data sets

    private func trainOnTensors(_ url: URL) throws {
        try reject(["seq-len"], reason: "applies to text")
        let dataset = try TensorDataset(contentsOf: url)
        let model = try initialModel { () throws -> ModelConfiguration in
            ModelConfiguration(cell: try cell, input: .dense(features: dataset.inputSize),
                               hiddenSize: try arguments.integer("hidden", default: 64)!,
                               layers: try arguments.integer("layers", default: 1, range: 1...1024)!,
                               bidirectional: arguments.flag("bidirectional"),
                               outputSize: dataset.outputSize, topology: dataset.topology,
                               head: arguments.flag("no-head") ? .identity : .linear)
        }
        try reject(["early-stop", "restore-best"], reason: "needs validation data, and a tensor data set has none")
        try dataset.check(fits: model.configuration)
        let plan = try TrainingPlan(arguments, defaults: .init(), trainingCount: dataset.count, seed: try seed)
        let batch = dataset.batch
        let result = try plan.run(model: model, threads: try arguments.integer("threads"),
                                  progress: ProgressLine(quiet: arguments.flag("json")),
                                  data: { _ in batch }, score: nil, maximumBadSteps: try maximumBadSteps,
                                  checkpointing: try TrainingPlan.checkpointing(arguments, url: checkpointURL),
                                  cancellation: Interrupts.cancellation)
        try finish(model: model, result: result, extra: [])
    }

    // MARK: Text

    private func trainOnText(_ url: URL) throws {
        try reject(["no-head"], reason: "applies to tensor data sets; a language model needs its head")
        let corpus = try TextCorpus(contentsOf: url)
        let validationFraction = try arguments.number("val-split", default: 0.1)!
        guard validationFraction < 1 else { throw UsageError("--val-split must be below 1") }
        let (training, validation) = corpus.split(validationFraction: validationFraction)
        let length = try arguments.integer("seq-len", default: 100)!
        guard training.count > length + 1 else {
            throw UsageError("the training text has \(training.count) characters, too few for sequences of \(length)")
        }
        let model = try initialModel { () throws -> ModelConfiguration in
            ModelConfiguration(cell: try cell, input: .oneHot(vocabularySize: corpus.vocabulary.count),
                               hiddenSize: try arguments.integer("hidden", default: 256)!,
                               layers: try arguments.integer("layers", default: 1, range: 1...1024)!,
                               bidirectional: false, outputSize: corpus.vocabulary.count, topology: .manyToMany,
                               vocabulary: corpus.vocabulary)
        }
        guard model.configuration.vocabulary == corpus.vocabulary else {
            throw UsageError("the --init model's vocabulary differs from this text's characters")
        }
        if arguments.flag("bidirectional") { throw UsageError("a language model predicts the next character: it cannot be bidirectional") }
        let windowCount = (training.count - 1) / length
        let plan = try TrainingPlan(arguments, defaults: .init(learningRate: 2e-3, clip: 5, batchSize: 64,
                                                               steps: nil, seconds: 120),
                                    trainingCount: windowCount, seed: try seed)
        // Each epoch cuts the training text into windows at an offset drawn
        // from the seed and the epoch, one that leaves at least one window.
        let runSeed = try seed
        let offsetChoices = UInt64(min(length, training.count - length))
        let epochData = { (epoch: Int) -> SequenceBatch in
            var offsets = SeededGenerator(seed: runSeed ^ 0x0FF5E7 &+ UInt64(epoch))
            let offset = Int(offsets.next() % offsetChoices)
            let count = (training.count - 1 - offset) / length
            return try corpus.windows(starts: (0..<count).map { training.lowerBound + offset + $0 * length }, length: length)
        }
        var validate: (() throws -> TrainingPlan.Score)?
        var validationSet: SequenceBatch?
        if validation.count > length + 1 {
            let count = (validation.count - 1) / length
            let full = try corpus.windows(starts: (0..<count).map { validation.lowerBound + $0 * length }, length: length)
            validationSet = full
            // Along the way a fixed slice keeps validation cheap; the end scores it all.
            let slice = Array(0..<min(count, 256))
            let scorer = Trainer(model: model, optimizer: plan.optimizer, threads: try arguments.integer("threads"))
            validate = {
                let loss = try scorer.loss(full, rows: slice)
                return .init(loss: loss, summary: String(format: "val %.4f", loss))
            }
        }
        let earlyStopping = try TrainingPlan.earlyStopping(arguments)
        if earlyStopping != nil && validate == nil {
            throw UsageError("--early-stop needs validation data: "
                             + "give --val-split X with enough text for one validation sequence")
        }
        let progress = ProgressLine(quiet: arguments.flag("json"))
        if !arguments.flag("json") {
            standardError("training a \(model.configuration.cell.rawValue) of \(model.configuration.hiddenSize) units on \(url.lastPathComponent): \(training.count) training and \(validation.count) validation characters, vocabulary \(corpus.vocabulary.count)")
        }
        var result = try plan.run(model: model, threads: try arguments.integer("threads"), progress: progress,
                                  unit: ("chars", length), data: epochData, score: validate,
                                  maximumBadSteps: try maximumBadSteps,
                                  checkpointing: try TrainingPlan.checkpointing(arguments, url: checkpointURL),
                                  earlyStopping: earlyStopping, cancellation: Interrupts.cancellation)
        var extra: [(String, JSONValue)] = [("chars_per_s", .number(result.sequencesPerSecond * Double(length)))]
        if let validationSet {
            let loss = try Trainer(model: model, optimizer: plan.optimizer, threads: try arguments.integer("threads")).loss(validationSet)
            result.validationCurve.append(LossPoint(step: result.steps, loss: loss))
            extra.append(("val_loss", .number(loss)))
        }
        let prime = corpus.vocabulary.contains(":") && url == (try? EmbeddedCorpus.url()) ? "ROMEO:" : ""
        let sample = try model.sampleText(prime: prime, length: 400, temperature: 0.8, seed: try seed)
        extra.append(("sample", .string(sample)))
        try finish(model: model, result: result, extra: extra)
        if !arguments.flag("json") { print("\n\(sample)\n") }
    }

    // MARK: Shared

    var cell: CellKind {
        get throws { try arguments.choice("cell", default: .lstm, aliases: ["rnn": .rnnTanh])! }
    }

    func reject(_ options: [String], reason: String) throws {
        for option in options where arguments.has(option) { throw UsageError("--\(option) \(reason)") }
    }

    /// The `--resume` checkpoint's model, the `--init` model, or a fresh one from `configuration`.
    func initialModel(_ configuration: () throws -> ModelConfiguration) throws -> Model {
        if let path = arguments.string("resume") {
            // A resumed run repeats the original arguments; the model comes from the checkpoint.
            let model = try Checkpoint(contentsOf: URL(fileURLWithPath: path)).model()
            if arguments.string("init") == nil, try configuration() != model.configuration {
                throw UsageError("the checkpoint \(path) holds a different model than these options describe")
            }
            return model
        }
        if let path = arguments.string("init") {
            try reject(["cell", "hidden", "layers", "bidirectional", "no-head"],
                       reason: "describes a fresh model; it cannot change the --init model")
            return try Model(contentsOf: URL(fileURLWithPath: path))
        }
        return try Model(try configuration(), seed: try seed)
    }

    /// Writes the model and its loss curve, then reports.
    /// - Parameters:
    ///   - metadata: what the model needs to know about its data (scaling, class names).
    ///   - heldOutName: the name of the second curve on the plot.
    ///   - closing: lines printed last (the held-out figures a user trained for).
    func finish(model: Model, result: TrainingSummary, extra: [(String, JSONValue)], metadata: [String: String] = [:],
                heldOutName: String = "validation", closing: [String] = []) throws {
        let out = outURL
        do {
            try model.write(to: out, extraMetadata: metadata)
        } catch ModelError.nonFiniteParameter(let name, _, let value, _) {
            throw TrainingDiverged(reason: "after \(result.steps) steps parameter '\(name)' holds \(value), so \(out.path) was not written",
                                   checkpoint: nil)
        }
        var plot: URL?
        if let url = lossPlotURL {
            func points(_ curve: [LossPoint]) -> [(x: Double, y: Double)] { curve.map { (Double($0.step), $0.loss) } }
            var series = [LineChart.Series(name: "training", points: points(result.trainingCurve),
                                           color: LineChart.palette[0])]
            if !result.validationCurve.isEmpty {
                series.append(.init(name: heldOutName, points: points(result.validationCurve),
                                    color: LineChart.palette[1]))
            }
            let chart = LineChart(title: "Loss of \(out.lastPathComponent)", xLabel: "step", yLabel: "loss", series: series)
            try writeAtomically(chart.svg(), to: url)
            plot = url
        }
        let validation = extra.first { $0.0 == "val_loss" }.map { $0.1 }
        // Only runs with --early-stop say how it went, so other runs print what they always did.
        var extra = extra
        var earlyStopLine: String?
        if let patience = try arguments.integer("early-stop") {
            let stopped = result.stopReason == .earlyStopped
            extra += [("stopped_early", .bool(stopped)), ("best_step", result.best.map { .integer($0.step) } ?? .null),
                      ("best_val_loss", result.best.map { .number($0.loss) } ?? .null)]
            let best = result.best.map {
                String(format: "the best validation loss, %.4f, at step %d", $0.loss, $0.step)
            } ?? "no finite validation loss"
            let kept = arguments.flag("restore-best") && result.best != nil ? ": kept its weights (--restore-best)" : ""
            earlyStopLine = (stopped ? "stopped early after \(patience) validation rounds without a better loss; " : "")
                + best + kept
        }
        if arguments.flag("json") {
            printJSON([("steps", .integer(result.steps)), ("train_loss", .number(result.finalLoss)),
                       ("gradient_norm", .number(result.finalGradientNorm)),
                       ("skipped_steps", .integer(result.skippedSteps)),
                       ("seconds", .number(result.seconds)), ("sequences_per_s", .number(result.sequencesPerSecond)),
                       ("model", .string(out.path)), ("plot", plot.map { .string($0.path) } ?? .null)] + extra)
            return
        }
        var summary = String(format: "trained %d steps in %.1f s, training loss %.4f", result.steps, result.seconds, result.finalLoss)
        if case .number(let loss)? = validation { summary += String(format: ", validation loss %.4f", loss) }
        if result.skippedSteps > 0 { summary += ", \(result.skippedSteps) steps skipped for non-finite gradients" }
        print(summary)
        if let earlyStopLine { print(earlyStopLine) }
        print("wrote \(out.path)" + (plot.map { " and \($0.path)" } ?? ""))
        for line in closing { print(line) }
    }
}

/// Tiny Shakespeare, shipped with the tool as a resource.
enum EmbeddedCorpus {
    static func url() throws -> URL {
        guard let url = Bundle.module.url(forResource: "tinyshakespeare", withExtension: "txt") else {
            throw UsageError("the embedded Tiny Shakespeare text is missing beside this executable; pass --data FILE")
        }
        return url
    }
}
