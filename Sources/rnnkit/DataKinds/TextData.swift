import CommandLineOptions
import Foundation
import RNNKit

/// A UTF-8 text for a character language model: any file no other kind
/// claims, or, without `--data`, the embedded Tiny Shakespeare.
enum TextData: DataKind {
    static let name = "text"
    static let singular = "text"
    static let heading = "Text (any other file, or none for Tiny Shakespeare)"
    static let suffixes: [String] = []
    static let refusals = ["no-head": "applies to tensor data sets; a language model needs its head"]

    static let trainOptions: [OptionSpec] =
        [
            .value("seq-len", "N", "characters per training sequence (default 100)"),
            .value("val-split", "X", "fraction held out for validation (default 0.1)")
        ] + TrainingPlan.checkpointOptions + TrainingPlan.earlyStoppingOptions
    static let evalOptions: [OptionSpec] = [
        .flag("all", "score the whole file instead of its last 10%"),
        .value("seq-len", "N", "characters per scored window (default 100)")
    ]

    static func trainOutputs(_ command: TrainCommand) -> [URL?] { [command.checkpointURL] }

    // MARK: Training

    static func train(_ command: TrainCommand) throws {
        let arguments = command.arguments
        Interrupts.install()
        let url = try command.dataURL ?? EmbeddedCorpus.url()
        let corpus = try TextCorpus(contentsOf: url)
        let validationFraction = try arguments.number("val-split", default: 0.1)!
        guard validationFraction < 1 else { throw UsageError("--val-split must be below 1") }
        let (training, validation) = corpus.split(validationFraction: validationFraction)
        let length = try arguments.integer("seq-len", default: 100)!
        guard training.count > length + 1 else {
            throw UsageError("the training text has \(training.count) characters, too few for sequences of \(length)")
        }
        let model = try command.initialModel { () throws -> ModelConfiguration in
            ModelConfiguration(
                cell: try command.cell(), input: .oneHot(vocabularySize: corpus.vocabulary.count),
                hiddenSize: try arguments.integer("hidden", default: 128)!,
                layers: try command.layers,
                bidirectional: false, outputSize: corpus.vocabulary.count, topology: .manyToMany,
                vocabulary: corpus.vocabulary, bias: command.bias,
                dropout: try command.dropout, projectionSize: try command.projectionSize)
        }
        guard model.configuration.vocabulary == corpus.vocabulary else {
            throw UsageError("the --init model's vocabulary differs from this text's characters")
        }
        if arguments.flag("bidirectional") {
            throw UsageError("a language model predicts the next character: it cannot be bidirectional")
        }
        let windowCount = (training.count - 1) / length
        // A two-minute run is short of updates, not of capacity: 128 units run
        // three times the characters per second of 256, and a high constant
        // rate beats a decaying one (BENCHMARKS.md, time to quality).
        let plan = try TrainingPlan(
            arguments,
            defaults: .init(
                learningRate: 6e-3, clip: 5, batchSize: 64,
                steps: nil, seconds: 120),
            trainingCount: windowCount, seed: try command.seed)
        // Each epoch cuts the training text into windows at an offset drawn
        // from the seed and the epoch, one that leaves at least one window.
        let runSeed = try command.seed
        let offsetChoices = UInt64(min(length, training.count - length))
        let epochData = { (epoch: Int) -> SequenceBatch in
            var offsets = SeededGenerator(seed: runSeed ^ 0x0FF5E7 &+ UInt64(epoch))
            let offset = Int(offsets.next() % offsetChoices)
            let count = (training.count - 1 - offset) / length
            return try corpus.windows(
                starts: (0..<count).map { training.lowerBound + offset + $0 * length }, length: length)
        }
        var validate: (() throws -> TrainingPlan.Score)?
        var validationSet: SequenceBatch?
        if validation.count > length + 1 {
            let count = (validation.count - 1) / length
            let full = try corpus.windows(
                starts: (0..<count).map { validation.lowerBound + $0 * length }, length: length)
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
            throw UsageError(
                "--early-stop needs validation data: "
                    + "give --val-split X with enough text for one validation sequence")
        }
        let progress = ProgressLine(quiet: arguments.flag("json"))
        if !arguments.flag("json") {
            standardError(
                "training a \(model.configuration.cell.rawValue) of \(model.configuration.hiddenSize) units on "
                    + "\(url.lastPathComponent): \(training.count) training and \(validation.count) validation "
                    + "characters, vocabulary \(corpus.vocabulary.count)"
            )
        }
        var result = try plan.run(
            model: model, threads: try arguments.integer("threads"), progress: progress,
            unit: ("chars", length), data: epochData, score: validate,
            maximumBadSteps: try command.maximumBadSteps,
            checkpointing: try TrainingPlan.checkpointing(arguments, url: command.checkpointURL),
            earlyStopping: earlyStopping, cancellation: Interrupts.cancellation)
        var extra: [(String, JSONValue)] = [("chars_per_s", .number(result.sequencesPerSecond * Double(length)))]
        if let validationSet {
            let loss = try Trainer(model: model, optimizer: plan.optimizer, threads: try arguments.integer("threads"))
                .loss(validationSet)
            result.validationCurve.append(LossPoint(step: result.steps, loss: loss))
            extra.append(("val_loss", .number(loss)))
        }
        let prime = corpus.vocabulary.contains(":") && url == (try? EmbeddedCorpus.url()) ? "ROMEO:" : ""
        let sample = try model.sampleText(prime: prime, length: 400, temperature: 0.8, seed: try command.seed)
        extra.append(("sample", .string(sample)))
        try command.finish(model: model, result: result, extra: extra)
        if !arguments.flag("json") { print("\n\(sample)\n") }
    }

    // MARK: Evaluation

    /// The loss per character of a character model, on consecutive windows.
    static func evaluate(_ command: EvalCommand, model: Model, metadata: DataMetadata, modelURL: URL, data: URL) throws
    {
        let arguments = command.arguments
        guard !model.configuration.vocabulary.isEmpty else {
            throw UsageError(
                "\(data.lastPathComponent) is not a .ts, .csv or .safetensors data set, and "
                    + "\(modelURL.lastPathComponent) is not a character model to score text with"
            )
        }
        let corpus = try TextCorpus(contentsOf: data)
        var index: [Character: Int32] = [:]
        for (token, character) in model.configuration.vocabulary.enumerated() { index[character] = Int32(token) }
        let mapping = corpus.vocabulary.map { index[$0] }
        let range = arguments.flag("all") ? 0..<corpus.tokens.count : corpus.split(validationFraction: 0.1).validation
        guard range.count >= 2 else {
            throw UsageError("\(data.lastPathComponent): too little text to score (\(range.count) characters)")
        }
        let tokens = try corpus.tokens[range].enumerated().map { offset, token -> Int32 in
            guard let mapped = mapping[Int(token)] else {
                throw DatasetError.unknownCharacter(
                    source: data.path, character: corpus.vocabulary[Int(token)], offset: range.lowerBound + offset)
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
        let batch = SequenceBatch(
            count: starts.count, timeSteps: length, inputs: .tokens(inputs), targets: .classes(targets))
        let loss = try Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: try command.threads).loss(batch)
        let scored = starts.count * length
        if arguments.flag("json") {
            printJSON([
                ("loss", .number(loss)), ("bits_per_char", .number(loss / log(2))), ("characters", .integer(scored))
            ])
            return
        }
        print(
            "\(data.lastPathComponent): \(arguments.flag("all") ? "the whole text" : "the last 10%"), \(scored) "
                + "characters in \(starts.count) windows of \(length)"
        )
        print(String(format: "loss %.4f nats per character (%.4f bits)", loss, loss / log(2)))
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
