import CommandLineOptions
import Foundation
import RNNKit

/// A UCR/UEA `.ts` classification set: a many-to-one classifier, trained
/// on `X_TRAIN.ts` and scored on the `X_TEST.ts` beside it.
enum TimeSeriesData: PredictableData {
    static let name = ".ts classification sets"
    static let singular = "a .ts classification set"
    static let heading = "UCR/UEA classification sets (FILE.ts)"
    static let suffixes = ["ts"]
    static let refusals = TrainingPlan.checkpointRefusals

    static let trainOptions: [OptionSpec] =
        [
            .value(
                "val-split", "X",
                "fraction of the training file held out for validation, the same share of every class "
                    + "(default 0, or 0.2 without an X_TEST.ts beside it)"),
            .value("patch", "N", "read N consecutive steps as one (default: enough for at most 50 steps)"),
            TrainingPlan.averagingOption
        ] + TrainingPlan.earlyStoppingOptions
    static let evalOptions = EvalCommand.confusionPlotOptions

    /// What `train --data X.ts` does with no other option: chosen on the UCR/UEA
    /// sets in the README so that each trains in well under a minute on two
    /// cores and reaches the accuracy reported there.
    enum Defaults {
        static let cell = CellKind.gru
        static let hiddenSize = 64
        /// The optimiser's settings. Without the weight decay the models fit
        /// JapaneseVowels' training cases perfectly within 300 steps and lose
        /// 1 to 2 points of test accuracy.
        static let training = TrainingPlan.Defaults(
            learningRate: 3e-3, weightDecay: 1e-3, clip: 1, batchSize: 16, steps: 600)
        /// Cases longer than this are read several steps at a time (`--patch`):
        /// GunPoint's 150 steps as 50 of 3 train faster and to higher accuracy.
        static let longestSteps = 50
        /// The share of the training file held out for validation when no test file lies beside it.
        static let validationWithoutTestFile = 0.2
    }

    // MARK: Training

    /// Trains a many-to-one classifier on a UCR/UEA `.ts` file.
    ///
    /// A sibling `X_TEST.ts` beside `X_TRAIN.ts` is the held-out test set,
    /// its classes numbered as the training file's. `--val-split` carves a
    /// stratified validation part out of the training file. Every dimension
    /// is scaled with the mean and deviation of the training part only; the
    /// model file records them, with the class names, for `eval` and `predict`.
    static func train(_ command: TrainCommand) throws {
        let arguments = command.arguments
        let url = command.dataURL!
        let quiet = arguments.flag("json")
        let file = try TimeSeriesClassificationSet(contentsOf: url)
        let testURL = TimeSeriesClassificationSet.testFile(besides: url)
        let test = try testURL.map { try TimeSeriesClassificationSet(contentsOf: $0, classNames: file.classNames) }
        if let test, test.dimensions != file.dimensions {
            throw UsageError(
                "\(testURL!.lastPathComponent) has \(test.dimensions) dimensions, \(url.lastPathComponent) "
                    + "\(file.dimensions)"
            )
        }
        let validationFraction = try arguments.number(
            "val-split", default: test == nil ? Defaults.validationWithoutTestFile : 0)!
        guard validationFraction < 1 else { throw UsageError("--val-split must be below 1") }
        let (trainingRows, validationRows) = stratifiedSplit(
            labels: file.labels, classCount: file.classNames.count,
            fraction: validationFraction, seed: try command.seed)

        // A model to continue from keeps its class numbering, scaling and patch.
        var metadata = DataMetadata()
        if let path = arguments.string("init") {
            try command.reject(["patch"], reason: "is fixed by the --init model")
            metadata = try DataMetadata(contentsOf: URL(fileURLWithPath: path))
            if let names = try metadata.strings(DataMetadata.Key.classNames), names != file.classNames {
                throw UsageError(
                    "the --init model's classes \(names) differ from \(url.lastPathComponent)'s \(file.classNames)")
            }
        }
        let longest = Defaults.longestSteps
        let patch =
            try metadata.integer(DataMetadata.Key.patch)
            ?? arguments.integer(
                "patch", default: (file.maxLength + longest - 1) / longest, range: 1...max(1, file.maxLength))!
        let model = try command.initialModel { () throws -> ModelConfiguration in
            ModelConfiguration(
                cell: try command.cell(default: Defaults.cell),
                input: .dense(features: file.dimensions * patch),
                hiddenSize: try arguments.integer("hidden", default: Defaults.hiddenSize)!,
                layers: try command.layers,
                bidirectional: arguments.flag("bidirectional"),
                outputSize: file.classNames.count, topology: .manyToOne, bias: command.bias,
                dropout: try command.dropout, projectionSize: try command.projectionSize)
        }
        let c = model.configuration
        guard c.topology == .manyToOne, c.input == .dense(features: file.dimensions * patch),
            c.outputSize == file.classNames.count
        else {
            throw UsageError(
                "the --init model (\(c.topology.rawValue), \(c.input.rnnInputSize) inputs, \(c.outputSize) outputs) "
                    + "does not fit \(url.lastPathComponent): many_to_one, \(file.dimensions * patch) inputs, "
                    + "\(file.classNames.count) classes"
            )
        }
        let scaling = try metadata.scaling ?? file.fitScaling(rows: trainingRows)
        metadata.entries[DataMetadata.Key.kind] = DataMetadata.Kind.timeSeriesClassification.rawValue
        metadata.entries[DataMetadata.Key.problemName] = file.name
        metadata.entries[DataMetadata.Key.patch] = String(patch)
        metadata.setStrings(DataMetadata.Key.classNames, file.classNames)
        metadata.setScaling(scaling)

        let all = try file.modelBatch(scaling: scaling, patch: patch)
        let training = all.subset(trainingRows, features: c.input.rnnInputSize)
        let validation = validationRows.isEmpty ? nil : all.subset(validationRows, features: c.input.rnnInputSize)
        let testBatch = try test.map { try $0.modelBatch(scaling: scaling, patch: patch) }
        let earlyStopping = try TrainingPlan.earlyStopping(arguments)
        if earlyStopping != nil && validation == nil {
            throw UsageError(
                "--early-stop needs validation data: give --val-split X "
                    + "(a test file is only scored; it never steers training)")
        }

        let plan = try TrainingPlan(
            arguments, defaults: Defaults.training,
            trainingCount: training.count, seed: try command.seed)
        let threads = try arguments.integer("threads")
        let classNames = file.classNames
        // Along the way, score the validation part if there is one, else the test file; neither steers training.
        let heldOut = validation.map { ("val", $0) } ?? testBatch.map { ("test", $0) }
        let score = heldOut.map { name, batch in
            { () throws -> TrainingPlan.Score in
                let scores = try model.classificationScores(batch, classNames: classNames, threads: threads)
                return .init(loss: scores.loss, summary: String(format: "%@ acc %.3f", name, scores.accuracy))
            }
        }

        if !quiet {
            let lengths =
                file.lengths.min()! == file.lengths.max()!
                ? "\(file.maxLength) steps" : "\(file.lengths.min()!)...\(file.maxLength) steps"
            let reading = patch > 1 ? " read \(patch) at a time (--patch \(patch))" : ""
            standardError(
                "training a \(c.bidirectional ? "bidirectional " : "")\(c.cell.rawValue) of \(c.hiddenSize) units on "
                    + "\(url.lastPathComponent): "
                    + "\(file.classNames.count) classes, \(file.dimensions) "
                    + "dimension\(file.dimensions == 1 ? "" : "s"), \(lengths)\(reading)"
            )
            var plan = "\(training.count) training cases"
            if let validation {
                plan += String(
                    format: ", %d held out for validation (--val-split %g)", validation.count, validationFraction)
            }
            if let test, let testURL {
                plan += ", \(test.count) test cases in \(testURL.lastPathComponent)"
                if validation == nil { plan += " (no validation split: the test file is the evaluation set)" }
            } else {
                let name = url.lastPathComponent
                let test = name.replacingOccurrences(of: "_TRAIN.", with: "_TEST.", options: .caseInsensitive)
                plan +=
                    name.range(of: "_TRAIN.", options: .caseInsensitive) != nil
                    ? "; no \(test) beside it, so no test set"
                    : "; no test set (X_TRAIN.ts is scored on the X_TEST.ts beside it)"
            }
            standardError(plan)
        }
        let progress = ProgressLine(quiet: quiet)
        let result = try plan.run(
            model: model, threads: threads, progress: progress, data: { _ in training },
            score: score, averagingShare: TrainingPlan.averagingShare(arguments),
            maximumBadSteps: try command.maximumBadSteps, checkpointing: nil, earlyStopping: earlyStopping)

        var extra: [(String, JSONValue)] = [("classes", .array(classNames.map { .string($0) }))]
        var closing: [String] = []
        var headline: ClassificationScores?
        if let validation {
            let scores = try model.classificationScores(validation, classNames: classNames, threads: threads)
            extra += [("val_loss", .number(scores.loss)), ("val_accuracy", .number(scores.accuracy))]
            closing.append(
                String(
                    format: "validation accuracy %.4f (%d of %d), loss %.4f", scores.accuracy, scores.correct,
                    scores.count, scores.loss))
            headline = scores
        }
        if let testBatch, let testURL {
            let scores = try model.classificationScores(testBatch, classNames: classNames, threads: threads)
            extra += [("test_loss", .number(scores.loss)), ("test_accuracy", .number(scores.accuracy))]
            closing.append(
                String(
                    format: "test accuracy %.4f (%d of %d) on %@, loss %.4f", scores.accuracy, scores.correct,
                    scores.count,
                    testURL.lastPathComponent, scores.loss))
            headline = scores
        }
        if let headline {
            extra.append(("accuracy", .number(headline.accuracy)))
        } else {
            let scores = try model.classificationScores(training, classNames: classNames, threads: threads)
            extra.append(("train_accuracy", .number(scores.accuracy)))
            closing.append(
                String(
                    format:
                        "training accuracy %.4f (%d of %d); hold out data with --val-split to measure more than fit",
                    scores.accuracy, scores.correct, scores.count))
        }
        try command.finish(
            model: model, result: result, extra: extra, metadata: metadata.entries,
            heldOutName: heldOut?.0 == "val" ? "validation" : "test",
            closing: closing)
    }

    /// Splits cases into training and validation rows, the same share of
    /// every class (at least one case of a class with two or more) drawn with
    /// a seeded shuffle; both lists in file order.
    static func stratifiedSplit(labels: [Int32], classCount: Int, fraction: Double, seed: UInt64) -> (
        training: [Int], validation: [Int]
    ) {
        guard fraction > 0 else { return (Array(labels.indices), []) }
        var generator = SeededGenerator(seed: seed ^ 0x5717)
        var validation: [Int] = []
        for label in 0..<Int32(classCount) {
            var members = labels.indices.filter { labels[$0] == label }
            guard members.count >= 2 else { continue }
            members.shuffle(using: &generator)
            let count = min(members.count - 1, max(1, Int((Double(members.count) * fraction).rounded())))
            validation += members.prefix(count)
        }
        let held = Set(validation)
        return (labels.indices.filter { !held.contains($0) }, validation.sorted())
    }

    // MARK: Evaluation

    static func evaluate(_ command: EvalCommand, model: Model, metadata: DataMetadata, modelURL: URL, data: URL) throws
    {
        if try metadata.scaling == nil, !command.arguments.flag("json") {
            standardError("note: \(modelURL.lastPathComponent) records no feature_scaling; scoring the values unscaled")
        }
        let set = try TimeSeriesClassificationSet.read(data, for: model, metadata: metadata)
        let scores = try model.classificationScores(
            set.modelBatch(for: model, metadata: metadata), classNames: set.outputNames(for: model),
            threads: try command.threads)
        try command.report(
            scores, modelURL: modelURL,
            what: "\(data.lastPathComponent): \(set.count) cases, \(set.classNames.count) classes")
    }

    // MARK: Prediction

    /// Classifies the cases of a `.ts` file: each case's predicted class and
    /// every class's probability, as CSV (`--out X.csv`) or as safetensors
    /// (`classes` I64 `[N]`, `probabilities` and `logits` F32 `[N, K]`).
    /// Labels in the file are not needed and not used; `eval` scores them.
    static func predict(_ command: PredictCommand, model modelURL: URL, data dataURL: URL, out: URL) throws {
        try checkOutputs([out], inputs: [modelURL, dataURL])
        let (model, metadata) = try readModel(modelURL)
        let set = try TimeSeriesClassificationSet.read(dataURL, for: model, metadata: metadata)
        var batch = try set.modelBatch(for: model, metadata: metadata)
        batch.targets = nil
        let logits = try model.outputs(for: batch, threads: try command.arguments.integer("threads"))
        let names = set.outputNames(for: model)
        let width = names.count
        var probabilities: [Float] = []
        var classes: [Int] = []
        for row in 0..<set.count {
            let rowProbabilities = softmax(logits[(row * width)..<((row + 1) * width)])
            probabilities += rowProbabilities
            classes.append(rowProbabilities.indices.max { rowProbabilities[$0] < rowProbabilities[$1] }!)
        }
        if out.pathExtension.lowercased() == "csv" {
            let quoted = { (text: String) in
                text.contains(where: { ",\"\n\r".contains($0) })
                    ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
            }
            var text =
                (["case", "predicted", "label"] + names.map { "p_\($0)" }).map(quoted).joined(separator: ",") + "\n"
            for row in 0..<set.count {
                text += "\(row + 1),\(quoted(names[classes[row]])),\(quoted(set.classNames[Int(set.labels[row])]))"
                text += probabilities[(row * width)..<((row + 1) * width)].map { ",\($0)" }.joined() + "\n"
            }
            try writeAtomically(text, to: out)
        } else {
            var file = SafetensorsFile(
                metadata: ["topology": "many_to_one"],
                tensors: [
                    "classes": Tensor(int64: classes.map(Int64.init), shape: [set.count]),
                    "probabilities": Tensor(floats: probabilities, shape: [set.count, width]),
                    "logits": Tensor(floats: logits, shape: [set.count, width])
                ])
            file.metadata[DataMetadata.Key.classNames] = JSONValue.array(names.map { .string($0) }).serialized()
            try file.write(to: out)
        }
        print("wrote the predicted classes of \(set.count) cases of \(dataURL.lastPathComponent) to \(out.path)")
    }
}
