import CommandLineOptions
import Foundation
import RNNKit

/// `rnnkit train`: fits a model to a data set, writes it with its loss curve.
///
/// The kind of data follows from the file (`DataKinds/`): `.safetensors`
/// tensor data sets, `.ts` classification sets, `.csv` series to forecast,
/// anything else plain UTF-8 text for a character language model. Without
/// `--data` it trains on the embedded Tiny Shakespeare.
struct TrainCommand: DataKindCommand {
    static let name = "train"
    static let summary = "train a model on a data set and save it"
    static let usage = "[--data FILE] [OPTIONS]"
    static let options: [OptionSpec] =
        [
            .value(
                "data", "FILE",
                "training data: a safetensors tensor data set, a UCR/UEA .ts classification set, a CSV series "
                    + "to forecast, or a UTF-8 text file (default: Tiny Shakespeare)"),
            .value("init", "MODEL", "start from this model file instead of a fresh model"),
            .value(
                "cell", "KIND",
                CellKind.allCases.map(\.rawValue).joined(separator: ", ")
                    + " (fresh models; lstm_ln is the layer-normalised LSTM; default gru for .ts sets, lstm "
                    + "otherwise)"),
            .value("hidden", "N", "hidden units per layer (default 128 for text, 32 for CSV series, 64 otherwise)"),
            .value("layers", "N", "stacked recurrent layers (default 1)"),
            .flag("bidirectional", "run each layer in both directions"),
            .flag("no-bias", "no bias_ih or bias_hh in the recurrent layers (PyTorch's bias=False)"),
            .value(
                "dropout", "P",
                "in training, zero each output of every layer but the last with probability P, in [0, 1) "
                    + "(PyTorch's dropout=; needs --layers 2 or more; default 0)"),
            .value(
                "proj-size", "N",
                "lstm only: project each layer's hidden state to N < --hidden units, h = W_hr (o * tanh(c)) "
                    + "(PyTorch's proj_size; default 0, none)")
        ] + TrainingPlan.options + [
            .value("seed", "N", "seed for initialisation and shuffling (default 0)"),
            .threads,
            .value("out", "FILE", "where to write the trained model (default model.safetensors)"),
            .flag("no-plot", "do not write the loss curve SVG beside the model"),
            .json
        ]
    static var dataKinds: [any DataKind.Type] { [TensorData.self, TimeSeriesData.self, SeriesData.self, TextData.self] }
    static func kindOptions(_ kind: any DataKind.Type) -> [OptionSpec] { kind.trainOptions }
    /// The options that shape a fresh model, which a model to continue from (--init) already has.
    static let modelShapeOptions = ["cell", "hidden", "layers", "bidirectional", "no-bias", "dropout", "proj-size"]

    static let notes = """
        Defaults per data: text trains a 1-layer LSTM of 128 units on one-hot characters, batch 64 x 100, Adam 6e-3,
        clipping at 5, for 120 seconds; tensor data sets train a 64-unit LSTM with Adam 1e-3 for 100 steps of 32.
        A UCR/UEA X_TRAIN.ts set trains a 64-unit GRU with Adam 3e-3, weight decay 1e-3 and clipping at 1 for 600 steps
        of 16, and is scored on X_TEST.ts beside it. A CSV series trains a 32-unit LSTM on windows of 24 \
        differences with
        Adam 3e-3 and clipping at 1 for 1000 steps of 16, then forecasts its last 12 values to MODEL.forecast.csv \
        and .svg.
        Both save the mean of the weights over the last quarter of the steps; their weight decay 1e-3 applies to \
        any --optimizer.
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
        (
            outStem.appendingPathExtension("forecast.csv"),
            arguments.flag("no-plot") ? nil : outStem.appendingPathExtension("forecast.svg")
        )
    }
    var checkpointURL: URL {
        arguments.string("checkpoint").map { URL(fileURLWithPath: $0) }
            ?? outStem.appendingPathExtension("checkpoint.safetensors")
    }

    var dataURL: URL? { arguments.string("data").map { URL(fileURLWithPath: $0) } }

    func run() throws {
        // Under mpirun or srun every rank runs this command on the same files.
        Processes.join()
        let kind = Self.kind(of: arguments.string("data"))
        // Refuses, before training, any file the run would write that cannot be
        // written or would replace its data or its --init model.
        try checkOutputs(
            [outURL, lossPlotURL] + kind.trainOutputs(self),
            inputs: [dataURL, arguments.string("init").map { URL(fileURLWithPath: $0) }])
        try Self.check(arguments, against: kind)
        try kind.train(self)
    }

    // MARK: Shared

    /// The --cell of a fresh model, `fallback` unless given.
    func cell(default fallback: CellKind = .lstm) throws -> CellKind {
        try arguments.choice("cell", default: fallback, aliases: ["rnn": .rnnTanh])!
    }

    /// Whether a fresh model's recurrent layers have biases: unless --no-bias.
    var bias: Bool { !arguments.flag("no-bias") }

    /// A fresh model's stacked layers: --layers, 1 unless given.
    var layers: Int { get throws { try arguments.integer("layers", default: 1, range: 1...1024)! } }

    /// A fresh model's projection width: --proj-size, none unless given.
    var projectionSize: Int { get throws { try arguments.integer("proj-size", default: 0, range: 0...1 << 24)! } }

    /// A fresh model's dropout between layers: --dropout, none unless given.
    var dropout: Float {
        get throws {
            let probability = try arguments.number("dropout", default: 0)!
            guard probability < 1 else {
                throw ArgumentError.invalidValue(
                    option: "dropout", value: arguments.string("dropout")!, expected: "a probability in [0, 1)")
            }
            // PyTorch only warns; here a run that would silently do nothing is refused.
            if probability > 0, try layers == 1 {
                throw UsageError("--dropout acts between stacked layers: it needs --layers 2 or more")
            }
            return Float(probability)
        }
    }

    var maximumBadSteps: Int { get throws { try arguments.integer("max-bad-steps", default: 10)! } }

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
            try reject(
                Self.modelShapeOptions + ["no-head"],
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
    func finish(
        model: Model, result: TrainingSummary, extra: [(String, JSONValue)], metadata: [String: String] = [:],
        heldOutName: String = "validation", closing: [String] = []
    ) throws {
        // Every rank holds the same model; the first writes and reports.
        guard Processes.isLead else { return }
        let out = outURL
        do {
            try model.write(to: out, extraMetadata: metadata)
        } catch ModelError.nonFiniteParameter(let name, _, let value, _) {
            throw TrainingDiverged(
                reason:
                    "after \(result.steps) steps parameter '\(name)' holds \(value), so \(out.path) was not written",
                checkpoint: nil)
        }
        var plot: URL?
        if let url = lossPlotURL {
            func points(_ curve: [LossPoint]) -> [(x: Double, y: Double)] { curve.map { (Double($0.step), $0.loss) } }
            var series = [
                LineChart.Series(
                    name: "training", points: points(result.trainingCurve),
                    color: LineChart.palette[0])
            ]
            if !result.validationCurve.isEmpty {
                series.append(
                    .init(
                        name: heldOutName, points: points(result.validationCurve),
                        color: LineChart.palette[1]))
            }
            let chart = LineChart(
                title: "Loss of \(out.lastPathComponent)", xLabel: "step", yLabel: "loss", series: series)
            try writeAtomically(chart.svg(), to: url)
            plot = url
        }
        let validation = extra.first { $0.0 == "val_loss" }.map { $0.1 }
        // Only runs with --early-stop say how it went, so other runs print what they always did.
        var extra = extra
        var earlyStopLine: String?
        if let patience = try arguments.integer("early-stop") {
            let stopped = result.stopReason == .earlyStopped
            extra += [
                ("stopped_early", .bool(stopped)), ("best_step", result.best.map { .integer($0.step) } ?? .null),
                ("best_val_loss", result.best.map { .number($0.loss) } ?? .null)
            ]
            let best =
                result.best.map {
                    String(format: "the best validation loss, %.4f, at step %d", $0.loss, $0.step)
                } ?? "no finite validation loss"
            let kept = arguments.flag("restore-best") && result.best != nil ? ": kept its weights (--restore-best)" : ""
            earlyStopLine =
                (stopped ? "stopped early after \(patience) validation rounds without a better loss; " : "")
                + best + kept
        }
        if arguments.flag("json") {
            printJSON(
                [
                    ("steps", .integer(result.steps)), ("train_loss", .number(result.finalLoss)),
                    ("gradient_norm", .number(result.finalGradientNorm)),
                    ("skipped_steps", .integer(result.skippedSteps)),
                    ("seconds", .number(result.seconds)), ("sequences_per_s", .number(result.sequencesPerSecond)),
                    ("kernels", .string(model.kernelSelection.instructionSet.rawValue)),
                    ("model", .string(out.path)), ("plot", plot.map { .string($0.path) } ?? .null)
                ] + extra)
            return
        }
        let kernels = model.kernelSelection
        var summary = String(
            format: "trained %d steps in %.1f s on %@%@ kernels, training loss %.4f", result.steps, result.seconds,
            kernels.instructionSet.description, kernels.usesSpecializedKernels ? "" : " generic", result.finalLoss)
        if case .number(let loss)? = validation { summary += String(format: ", validation loss %.4f", loss) }
        if result.skippedSteps > 0 { summary += ", \(result.skippedSteps) steps skipped for non-finite gradients" }
        print(summary)
        if let earlyStopLine { print(earlyStopLine) }
        print("wrote \(out.path)" + (plot.map { " and \($0.path)" } ?? ""))
        for line in closing { print(line) }
    }
}
