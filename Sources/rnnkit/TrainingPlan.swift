import CommandLineOptions
import Foundation
import RNNKit

/// The optimiser, schedule, clipping, budget and mini-batch schedule of a
/// `train` run, read from the shared options with defaults chosen per kind
/// of data: the settings of the library's `TrainingRun`, which this runs
/// with the tool's progress line and messages.
struct TrainingPlan {
    struct Defaults {
        /// The optimiser a run uses without --optimizer, and its rate for this kind of data.
        var optimizer = "adam"
        var learningRate: Float?
        /// This kind of data's weight decay, for every optimiser, instead of the optimiser's own default.
        var weightDecay: Float?
        var clip: Double = 0
        var batchSize = 32
        var steps: Int? = 100
        var seconds: Double?
    }

    var optimizer: Optimizer
    var schedule: LearningRateSchedule
    var clipping: GradientClipping
    /// Stop after this many steps, or when `seconds` run out, whichever comes first.
    var steps: Int?
    var seconds: Double?
    var batchSize: Int
    /// Mini-batches per optimiser step.
    var accumulation: Int
    var shuffle: Bool
    var seed: UInt64

    /// The optimisers --optimizer names, one line each: how each is built
    /// from the options, with the defaults of its PyTorch class.
    static let optimizers: [(name: String, make: @Sendable (OptimizerOptions) throws -> Optimizer)] = [
        (
            "sgd",
            {
                .sgd(
                    learningRate: try $0.learningRate(0.01), momentum: try $0.momentum(),
                    weightDecay: try $0.weightDecay(0))
            }
        ),
        ("adam", { .adam(learningRate: try $0.learningRate(1e-3), weightDecay: try $0.weightDecay(0)) }),
        ("adamw", { .adamW(learningRate: try $0.learningRate(1e-3), weightDecay: try $0.weightDecay(0.01)) })
    ]

    /// `sgd, adam or adamw`: the names --optimizer takes, for its help.
    private static var optimizerNames: String {
        optimizers.dropLast().map(\.name).joined(separator: ", ") + " or " + optimizers.last!.name
    }

    enum ScheduleName: String, CaseIterable {
        case constant, step, cosine, plateau
    }

    static let options: [OptionSpec] = [
        .value("steps", "N", "optimiser steps"),
        .value("epochs", "N", "passes over the training data (instead of --steps)"),
        .value("time", "SECONDS", "stop after this much training time"),
        .value("batch", "N", "sequences per mini-batch (the last of an epoch takes the rows left)"),
        .value(
            "accumulate", "K",
            "one optimiser step per K mini-batches: the bits of one batch K times as large, "
                + "in the memory of one (default 1)"),
        .flag("no-shuffle", "take mini-batches in data set order"),
        .value("optimizer", "NAME", optimizerNames + " (default adam)"),
        .value("lr", "X", "learning rate (default 0.001 for adam and adamw, 0.01 for sgd)"),
        .value("momentum", "X", "SGD momentum (default 0)"),
        .value(
            "weight-decay", "X", "weight decay: L2 for sgd and adam (default 0), decoupled for adamw (default 0.01)"),
        .value("schedule", "NAME", "learning-rate schedule: constant (default), step, cosine or plateau"),
        .value("step-size", "N", "step schedule: multiply the rate by --gamma every N steps (StepLR)"),
        .value("gamma", "X", "step schedule: the factor (default 0.1)"),
        .value("warmup", "N", "cosine schedule: rise linearly over the first N steps (LinearLR from lr/N)"),
        .value("factor", "X", "plateau schedule: the factor (default 0.1)"),
        .value(
            "patience", "N", "plateau schedule: epochs without a lower mean training loss before reducing (default 10)",
            integers: 0...Arguments.integerRange.upperBound),
        .value("clip", "X", "clip the global gradient norm at X; 0 turns clipping off"),
        .value("clip-value", "X", "clamp every gradient element into -X...X instead"),
        .value("max-bad-steps", "N", "stop after N consecutive non-finite steps (default 10)")
    ]

    /// The options of the data kinds whose runs are long enough to checkpoint.
    static let checkpointOptions: [OptionSpec] = [
        .value("checkpoint", "FILE", "save the whole training state here (default MODEL.checkpoint.safetensors)"),
        .value("checkpoint-every", "N", "save a checkpoint every N steps"),
        .value("checkpoint-seconds", "S", "save a checkpoint every S seconds"),
        .value("resume", "FILE", "continue from a checkpoint (same data and settings)")
    ]

    /// Why the data kinds whose runs take seconds refuse the checkpoint options.
    static let checkpointRefusals = Dictionary(
        uniqueKeysWithValues: checkpointOptions.map {
            ($0.name, "applies to text and tensor data sets; a .ts or CSV run takes seconds: run it again instead")
        })

    /// The options of the data kinds that hold out validation data.
    static let earlyStoppingOptions: [OptionSpec] = [
        .value(
            "early-stop", "N",
            "stop after N validation rounds (about ten per run) without a validation loss "
                + "lower than the best by a relative 1e-4; needs validation data"),
        .flag("restore-best", "with --early-stop: end with the weights of the best validation round")
    ]

    /// `--no-averaging`, for the data kinds that save averaged weights.
    static let averagingOption = OptionSpec.flag(
        "no-averaging", "keep the last step's weights, not their mean over the last quarter of the steps")

    /// The share of the last steps whose mean weights a run of a kind with
    /// `averagingOption` saves: a quarter, unless --no-averaging. Across seeds,
    /// the test accuracy of `.ts` sets and the MAPE of CSV series then vary
    /// about half as much.
    static func averagingShare(_ arguments: Arguments) -> Double {
        arguments.flag("no-averaging") ? 0 : 0.25
    }

    /// What --schedule means, for the help's notes.
    static let scheduleNotes = """
        Schedules are PyTorch's: step is StepLR(step_size, gamma) and cosine over a run of S steps is
        CosineAnnealingLR(T_max=S, eta_min=0), both stepped after every optimiser step; --warmup N puts
        LinearLR(start_factor=1/N, total_iters=N) before it, as SequentialLR([LinearLR(start_factor=1/N, total_iters=N),
        CosineAnnealingLR(T_max=S, eta_min=0)], milestones=[N]): the cosine starts at step N and keeps T_max=S. \
        plateau is
        ReduceLROnPlateau(mode=min, factor, patience, threshold=1e-4 rel), stepped at the end of each epoch with \
        its mean
        training loss.
        """

    /// The checkpoint settings for a run saving its checkpoints to `url`.
    static func checkpointing(_ arguments: Arguments, url: URL) throws -> TrainingRun.Checkpointing {
        TrainingRun.Checkpointing(
            url: url, everySteps: try arguments.integer("checkpoint-every"),
            everySeconds: try arguments.number("checkpoint-seconds", minimum: 0.001),
            resume: try arguments.string("resume").map { try Checkpoint(contentsOf: URL(fileURLWithPath: $0)) })
    }

    /// The --early-stop and --restore-best settings, nil without --early-stop.
    static func earlyStopping(_ arguments: Arguments) throws -> TrainingRun.EarlyStopping? {
        guard let patience = try arguments.integer("early-stop") else {
            if arguments.flag("restore-best") { throw UsageError("--restore-best applies with --early-stop N") }
            return nil
        }
        return TrainingRun.EarlyStopping(patience: patience, restoreBest: arguments.flag("restore-best"))
    }

    init(_ arguments: Arguments, defaults: Defaults, trainingCount: Int, seed: UInt64) throws {
        let name = arguments.string("optimizer") ?? defaults.optimizer
        guard let entry = Self.optimizers.first(where: { $0.name == name }) else {
            throw UsageError(
                "--optimizer expects one of \(Self.optimizers.map(\.name).joined(separator: ", ")), got '\(name)'")
        }
        let options = OptimizerOptions(
            arguments, learningRate: name == defaults.optimizer ? defaults.learningRate : nil,
            weightDecay: defaults.weightDecay)
        optimizer = try entry.make(options)
        for option in ["lr", "momentum", "weight-decay"] where arguments.has(option) && !options.read.contains(option) {
            throw UsageError("--\(option) does not apply to \(name)")
        }
        if arguments.has("clip") && arguments.has("clip-value") {
            throw UsageError("use --clip or --clip-value, not both")
        }
        if let limit = try arguments.number("clip-value"), limit > 0 {
            clipping = .value(Float(limit))
        } else {
            let norm = try arguments.number("clip", default: defaults.clip)!
            clipping = norm > 0 ? .norm(Float(norm)) : .none
        }
        batchSize = min(try arguments.integer("batch", default: defaults.batchSize)!, trainingCount)
        accumulation = try arguments.integer("accumulate", default: 1)!
        let rowsPerStep = batchSize * accumulation
        let stepsPerEpoch = (trainingCount + rowsPerStep - 1) / rowsPerStep
        if arguments.has("steps") && arguments.has("epochs") { throw UsageError("use --steps or --epochs, not both") }
        if let epochs = try arguments.integer("epochs") {
            steps = epochs * stepsPerEpoch
        } else if arguments.has("steps") {
            steps = try arguments.integer("steps")
        } else {
            steps = arguments.has("time") ? nil : defaults.steps
        }
        seconds = try arguments.number(
            "time", default: arguments.has("steps") || arguments.has("epochs") ? nil : defaults.seconds, minimum: 0.001)
        if steps == nil && seconds == nil { steps = defaults.steps ?? 100 }
        schedule = try Self.schedule(arguments, steps: steps)
        shuffle = !arguments.flag("no-shuffle")
        self.seed = seed
    }

    /// The --schedule and its options, for a run of `steps` optimiser steps.
    private static func schedule(_ arguments: Arguments, steps: Int?) throws -> LearningRateSchedule {
        let name = try arguments.choice("schedule", default: ScheduleName.constant)!
        let owners: [(options: [String], schedule: ScheduleName)] = [
            (["step-size", "gamma"], .step), (["warmup"], .cosine), (["factor", "patience"], .plateau)
        ]
        for (options, owner) in owners where owner != name {
            for option in options where arguments.has(option) {
                throw UsageError("--\(option) applies to --schedule \(owner.rawValue)")
            }
        }
        let schedule: LearningRateSchedule
        switch name {
        case .constant:
            schedule = .constant
        case .step:
            guard let size = try arguments.integer("step-size") else {
                throw UsageError("--schedule step needs --step-size N: the steps between reductions")
            }
            schedule = .step(size: size, gamma: try arguments.number("gamma", default: 0.1)!)
        case .cosine:
            guard let steps else {
                throw UsageError("--schedule cosine spans the run's steps: give --steps or --epochs, not only --time")
            }
            let warmup = try arguments.integer("warmup", default: 0)!
            guard warmup < steps else {
                throw UsageError("--warmup \(warmup) must be shorter than the run's \(steps) steps")
            }
            schedule = .cosine(steps: steps, warmup: warmup)
        case .plateau:
            let factor = try arguments.number("factor", default: 0.1)!
            guard factor < 1 else { throw UsageError("--factor must be below 1, got \(factor)") }
            schedule = .plateau(factor: factor, patience: try arguments.integer("patience", default: 10)!)
        }
        return schedule
    }

    /// A held-out figure: its loss goes on the validation curve, its summary
    /// on the progress line (`val 1.8140`, `test acc 0.962`, `test MAPE 4.1%`).
    struct Score {
        var loss: Double
        var summary: String
    }

    /// The library's settings for this plan.
    func settings(
        threads: Int?, averagingShare: Double = 0, maximumBadSteps: Int,
        checkpointing: TrainingRun.Checkpointing?,
        earlyStopping: TrainingRun.EarlyStopping? = nil
    ) -> TrainingRun.Settings {
        TrainingRun.Settings(
            optimizer: optimizer, schedule: schedule, clipping: clipping, batchSize: batchSize,
            accumulation: accumulation, shuffle: shuffle, seed: seed, steps: steps, seconds: seconds, threads: threads,
            averagingShare: averagingShare, maximumBadSteps: maximumBadSteps,
            checkpointing: checkpointing, earlyStopping: earlyStopping, communicator: Processes.communicator)
    }

    /// Runs the library's `TrainingRun` with these settings, showing its
    /// progress on `progress` and speaking the command line's language in its
    /// errors (`--resume`, a signal's exit).
    ///
    /// - Parameters:
    ///   - unit: What the progress line counts per second, and how many of
    ///     them a sequence holds (`chars`, the window length).
    ///   - score: A held-out figure scored about ten times along the way and at
    ///     the end; it steers training only with early stopping.
    ///   - cancellation: Checked once per step (SIGINT and SIGTERM through
    ///     `Interrupts`); nil for runs short enough that a signal simply ends them.
    func run(
        model: Model, threads: Int?, progress: ProgressLine, unit: (name: String, perSequence: Int) = ("seq", 1),
        data: @escaping (_ epoch: Int) throws -> SequenceBatch, score: (() throws -> Score)?,
        averagingShare: Double = 0, maximumBadSteps: Int, checkpointing: TrainingRun.Checkpointing?,
        earlyStopping: TrainingRun.EarlyStopping? = nil,
        cancellation: TrainingCancellation? = nil
    ) throws -> TrainingSummary {
        // The scorer's own summary once it has scored; before that, a resumed run's last validation loss.
        var latestSummary: String?
        let validation = score.map { score in
            { () throws -> Double in
                let current = try score()
                latestSummary = current.summary
                return current.loss
            }
        }
        let run = TrainingRun(
            settings: settings(
                threads: threads, averagingShare: averagingShare, maximumBadSteps: maximumBadSteps,
                checkpointing: checkpointing, earlyStopping: earlyStopping),
            data: data, validation: validation,
            progress: { report in
                var line = String(format: "step %d", report.step) + (report.totalSteps.map { "/\($0)" } ?? "")
                line += String(format: "  loss %.4f", report.smoothedLoss)
                if let summary = latestSummary ?? report.validationLoss.map({ String(format: "val %.4f", $0) }) {
                    line += "  " + summary
                }
                if report.skippedSteps > 0 { line += "  skipped \(report.skippedSteps)" }
                let rate = report.sequencesPerSecond * Double(unit.perSequence)
                line += String(
                    format: "  %.0f %@/s  %@ elapsed  %@ left", rate, unit.name,
                    formatDuration(report.elapsed), formatDuration(report.estimatedRemaining ?? .nan))
                progress.update(line, force: report.isFinal)
            },
            cancellation: cancellation)
        do {
            let summary = try run.run(model: model)
            progress.finish()
            return summary
        } catch let cancelled as TrainingCancelled {
            progress.finish()
            guard let checkpoint = cancelled.checkpoint else { throw cancelled }
            throw Interrupted(signal: Interrupts.pending ?? SIGINT, checkpoint: checkpoint)
        } catch TrainingRunError.resumeSettingsMismatch(let saved, let current) {
            throw UsageError(
                "--resume needs the same settings as the run that saved it (\(saved ?? "none")), "
                    + "this run has \(current)")
        } catch TrainingRunError.invalidResumeProgress(let key, let value, let expected) {
            throw UsageError("the --resume checkpoint's progress '\(key)' is '\(value)', not \(expected)")
        }
    }
}

/// The options an optimiser's line in `TrainingPlan.optimizers` reads, with
/// the defaults it gives; remembers which it read, so that an option the
/// chosen optimiser has no use for is refused.
final class OptimizerOptions {
    private let arguments: Arguments
    private let kindLearningRate: Float?
    private let kindWeightDecay: Float?
    private(set) var read: Set<String> = []

    /// - Parameters:
    ///   - learningRate: the kind of data's rate, over the optimiser's own default.
    ///   - weightDecay: the kind of data's weight decay, over the optimiser's own default.
    init(_ arguments: Arguments, learningRate: Float?, weightDecay: Float?) {
        self.arguments = arguments
        kindLearningRate = learningRate
        kindWeightDecay = weightDecay
    }

    func learningRate(_ fallback: Double) throws -> Float {
        Float(try number("lr", default: kindLearningRate.map(Double.init) ?? fallback))
    }
    func weightDecay(_ fallback: Double) throws -> Float {
        Float(try number("weight-decay", default: kindWeightDecay.map(Double.init) ?? fallback))
    }
    func momentum() throws -> Float { Float(try number("momentum", default: 0)) }

    private func number(_ name: String, default fallback: Double) throws -> Double {
        read.insert(name)
        return try arguments.number(name, default: fallback)!
    }
}
