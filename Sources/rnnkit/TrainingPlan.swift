import Foundation
import RNNKit

/// The optimiser, schedule, clipping, budget and mini-batch schedule of a
/// `train` run, read from the shared options with defaults chosen per kind
/// of data.
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
    var shuffle: Bool
    var seed: UInt64

    /// The optimisers --optimizer names, one line each: how each is built
    /// from the options, with the defaults of its PyTorch class.
    static let optimizers: [(name: String, make: @Sendable (OptimizerOptions) throws -> Optimizer)] = [
        ("sgd", { .sgd(learningRate: try $0.learningRate(0.01), momentum: try $0.momentum(), weightDecay: try $0.weightDecay(0)) }),
        ("adam", { .adam(learningRate: try $0.learningRate(1e-3), weightDecay: try $0.weightDecay(0)) }),
        ("adamw", { .adamW(learningRate: try $0.learningRate(1e-3), weightDecay: try $0.weightDecay(0.01)) }),
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
        .flag("no-shuffle", "take mini-batches in data set order"),
        .value("optimizer", "NAME", optimizerNames + " (default adam)"),
        .value("lr", "X", "learning rate (default 0.001 for adam and adamw, 0.01 for sgd)"),
        .value("momentum", "X", "SGD momentum (default 0)"),
        .value("weight-decay", "X", "weight decay: L2 for sgd and adam (default 0), decoupled for adamw (default 0.01)"),
        .value("schedule", "NAME", "learning-rate schedule: constant (default), step, cosine or plateau"),
        .value("step-size", "N", "step schedule: multiply the rate by --gamma every N steps (StepLR)"),
        .value("gamma", "X", "step schedule: the factor (default 0.1)"),
        .value("warmup", "N", "cosine schedule: rise linearly over the first N steps (LinearLR from lr/N)"),
        .value("factor", "X", "plateau schedule: the factor (default 0.1)"),
        .value("patience", "N", "plateau schedule: epochs without a lower mean training loss before reducing (default 10)",
               integers: 0...Arguments.integerRange.upperBound),
        .value("clip", "X", "clip the global gradient norm at X; 0 turns clipping off"),
        .value("clip-value", "X", "clamp every gradient element into -X...X instead"),
        .value("checkpoint", "FILE", "save the whole training state here (default MODEL.checkpoint.safetensors)"),
        .value("checkpoint-every", "N", "save a checkpoint every N steps"),
        .value("checkpoint-seconds", "S", "save a checkpoint every S seconds"),
        .value("resume", "FILE", "continue from a checkpoint (same data and settings)"),
        .value("max-bad-steps", "N", "stop after N consecutive non-finite steps (default 10)"),
    ]

    /// What --schedule means, for the help's notes.
    static let scheduleNotes = """
    Schedules are PyTorch's: step is StepLR(step_size, gamma) and cosine over a run of S steps is
    CosineAnnealingLR(T_max=S, eta_min=0), both stepped after every optimiser step; --warmup N puts
    LinearLR(start_factor=1/N, total_iters=N) before it, as SequentialLR([LinearLR(start_factor=1/N, total_iters=N),
    CosineAnnealingLR(T_max=S, eta_min=0)], milestones=[N]): the cosine starts at step N and keeps T_max=S. plateau is
    ReduceLROnPlateau(mode=min, factor, patience, threshold=1e-4 rel), stepped at the end of each epoch with its mean
    training loss.
    """

    /// The checkpoint settings for a run saving its checkpoints to `url`.
    static func checkpointing(_ arguments: Arguments, url: URL) throws -> Checkpointing {
        Checkpointing(url: url, everySteps: try arguments.integer("checkpoint-every"),
                      everySeconds: try arguments.number("checkpoint-seconds", minimum: 0.001),
                      resume: try arguments.string("resume").map { try Checkpoint(contentsOf: URL(fileURLWithPath: $0)) })
    }

    init(_ arguments: Arguments, defaults: Defaults, trainingCount: Int, seed: UInt64) throws {
        let name = arguments.string("optimizer") ?? defaults.optimizer
        guard let entry = Self.optimizers.first(where: { $0.name == name }) else {
            throw UsageError("--optimizer expects one of \(Self.optimizers.map(\.name).joined(separator: ", ")), got '\(name)'")
        }
        let options = OptimizerOptions(arguments, learningRate: name == defaults.optimizer ? defaults.learningRate : nil,
                                       weightDecay: defaults.weightDecay)
        optimizer = try entry.make(options)
        for option in ["lr", "momentum", "weight-decay"] where arguments.has(option) && !options.read.contains(option) {
            throw UsageError("--\(option) does not apply to \(name)")
        }
        if arguments.has("clip") && arguments.has("clip-value") { throw UsageError("use --clip or --clip-value, not both") }
        if let limit = try arguments.number("clip-value"), limit > 0 {
            clipping = .value(Float(limit))
        } else {
            let norm = try arguments.number("clip", default: defaults.clip)!
            clipping = norm > 0 ? .norm(Float(norm)) : .none
        }
        batchSize = min(try arguments.integer("batch", default: defaults.batchSize)!, trainingCount)
        let stepsPerEpoch = (trainingCount + batchSize - 1) / batchSize
        if arguments.has("steps") && arguments.has("epochs") { throw UsageError("use --steps or --epochs, not both") }
        if let epochs = try arguments.integer("epochs") {
            steps = epochs * stepsPerEpoch
        } else if arguments.has("steps") {
            steps = try arguments.integer("steps")
        } else {
            steps = arguments.has("time") ? nil : defaults.steps
        }
        seconds = try arguments.number("time", default: arguments.has("steps") || arguments.has("epochs") ? nil : defaults.seconds, minimum: 0.001)
        if steps == nil && seconds == nil { steps = defaults.steps ?? 100 }
        schedule = try Self.schedule(arguments, steps: steps)
        shuffle = !arguments.flag("no-shuffle")
        self.seed = seed
    }

    /// The --schedule and its options, for a run of `steps` optimiser steps.
    private static func schedule(_ arguments: Arguments, steps: Int?) throws -> LearningRateSchedule {
        let name = try arguments.choice("schedule", default: ScheduleName.constant)!
        let owners: [(options: [String], schedule: ScheduleName)] = [
            (["step-size", "gamma"], .step), (["warmup"], .cosine), (["factor", "patience"], .plateau),
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
            guard warmup < steps else { throw UsageError("--warmup \(warmup) must be shorter than the run's \(steps) steps") }
            schedule = .cosine(steps: steps, warmup: warmup)
        case .plateau:
            let factor = try arguments.number("factor", default: 0.1)!
            guard factor < 1 else { throw UsageError("--factor must be below 1, got \(factor)") }
            schedule = .plateau(factor: factor, patience: try arguments.integer("patience", default: 10)!)
        }
        return schedule
    }

    struct Result {
        var steps = 0
        var finalLoss = Double.nan
        var finalGradientNorm = Double.nan
        var skipped = 0
        var seconds = 0.0
        var trainingCurve: [(x: Double, y: Double)] = []
        var validationCurve: [(x: Double, y: Double)] = []
        /// Steps and sequences run in this process (a resumed run counts only its own).
        var stepsThisRun = 0
        var sequencesThisRun = 0
        var sequencesPerSecond: Double { seconds > 0 ? Double(sequencesThisRun) / seconds : 0 }
    }

    /// Where and how often to save the whole training state.
    struct Checkpointing {
        var url: URL
        var everySteps: Int?
        var everySeconds: Double?
        var resume: Checkpoint?
    }

    /// The loop's position: which epoch, and how far into its shuffled order.
    private struct Position {
        var step = 0
        var epoch = 0
        var cursor = 0
    }

    /// The settings a resumed run must share with the run that saved the checkpoint
    /// (the schedule only when there is one, as before schedules existed).
    private var signature: String {
        "batch=\(batchSize) shuffle=\(shuffle) seed=\(seed) optimizer=\(optimizer) clipping=\(clipping)"
            + (schedule == .constant ? "" : " schedule=\(schedule)")
    }

    /// A held-out figure: its loss goes on the validation curve, its summary
    /// on the progress line (`val 1.8140`, `test acc 0.962`, `test MAPE 4.1%`).
    struct Score {
        var loss: Double
        var summary: String
    }

    /// Trains over mini-batches drawn from `data(epoch)`, in order or in a
    /// shuffle seeded by the epoch (so a resumed run draws the same batches),
    /// until the step or time budget runs out; scores `score` about ten
    /// times along the way, and at the end.
    ///
    /// A mini-batch never spans two epochs: `data` may cut each epoch's
    /// sequences differently, so the last mini-batch of an epoch takes the
    /// rows left over, fewer than `batchSize` unless they divide evenly.
    ///
    /// The score is only shown and plotted: it never steers training, so a
    /// test set can be scored without leaking into it.
    ///
    /// - Parameters:
    ///   - unit: What the progress line counts per second, and how many of
    ///     them a sequence holds (`chars`, the window length).
    ///   - averagingShare: Above 0, the model ends with the mean of its
    ///     weights after each step of that last share of the budget
    ///     (stochastic weight averaging): on small data sets it varies far
    ///     less from seed to seed than the last step's weights.
    ///   - maximumBadSteps: Stop with an error after this many consecutive
    ///     steps with a non-finite loss or gradient.
    ///   - checkpointing: Where to save the training state, periodically and
    ///     on SIGINT or SIGTERM, and what to resume from; nil for runs short
    ///     enough that a signal simply ends them.
    func run(model: Model, threads: Int?, progress: ProgressLine, unit: (name: String, perSequence: Int) = ("seq", 1),
             data: (_ epoch: Int) throws -> SequenceBatch, score: (() throws -> Score)?,
             averagingShare: Double = 0, maximumBadSteps: Int, checkpointing: Checkpointing?) throws -> Result {
        let trainer = Trainer(model: model, optimizer: optimizer, schedule: schedule, clipping: clipping, threads: threads)
        var position = Position()
        // A plateau schedule steps with each epoch's mean training loss.
        var epochLoss = (sum: 0.0, steps: 0)
        var result = Result()
        var elapsedBefore = 0.0
        if let checkpoint = checkpointing?.resume {
            let saved = checkpoint.progress
            guard saved["signature"] == signature else {
                throw UsageError("--resume needs the same settings as the run that saved it (\(saved["signature"] ?? "none")), this run has \(signature)")
            }
            try trainer.restoreOptimizer(from: checkpoint)
            // Counts from the file: checked, so that an edited checkpoint cannot index or seed out of range.
            func count(_ key: String) throws -> Int {
                guard let value = Int(saved[key] ?? "0"), (0...Arguments.integerRange.upperBound).contains(value) else {
                    throw UsageError("the --resume checkpoint's progress '\(key)' is '\(saved[key] ?? "")', not a count this run could have saved")
                }
                return value
            }
            position = Position(step: try count("step"), epoch: try count("epoch"), cursor: try count("cursor"))
            if schedule.isMetricDriven {
                guard let sum = Double(saved["epoch_loss_sum"] ?? ""), sum.isFinite else {
                    throw UsageError("the --resume checkpoint's progress 'epoch_loss_sum' is '\(saved["epoch_loss_sum"] ?? "")', not a finite number")
                }
                epochLoss = (sum, try count("epoch_loss_steps"))
            }
            elapsedBefore = Double(saved["seconds"] ?? "") ?? 0
            result.steps = position.step
            result.trainingCurve = zip(checkpoint.history("train_step"), checkpoint.history("train_loss")).map { (Double($0), Double($1)) }
            result.validationCurve = zip(checkpoint.history("validation_step"), checkpoint.history("validation_loss")).map { (Double($0), Double($1)) }
        }
        var batch = try data(position.epoch)
        var order = epochOrder(count: batch.count, epoch: position.epoch)
        var rows: [Int] = []
        rows.reserveCapacity(batchSize)
        var smoothedLoss = result.trainingCurve.last?.y ?? .nan
        var latestScore = result.validationCurve.last.map { Score(loss: $0.y, summary: String(format: "val %.4f", $0.y)) }
        var badSteps = 0
        var average = WeightAverage(model: model)
        let start = ContinuousClock.now
        var lastCheckpoint = start
        var nextScore = (fraction(step: position.step, elapsed: elapsedBefore) * 10).rounded(.down) / 10 + 0.1

        func save(to checkpointing: Checkpointing) throws {
            let history: [String: [Float]] = [
                "train_step": result.trainingCurve.map { Float($0.x) }, "train_loss": result.trainingCurve.map { Float($0.y) },
                "validation_step": result.validationCurve.map { Float($0.x) },
                "validation_loss": result.validationCurve.map { Float($0.y) },
            ]
            let elapsed = elapsedBefore + (ContinuousClock.now - start).seconds
            var progress = ["step": String(position.step), "epoch": String(position.epoch),
                            "cursor": String(position.cursor), "seconds": String(elapsed), "signature": signature]
            if schedule.isMetricDriven {
                progress["epoch_loss_sum"] = String(epochLoss.sum)
                progress["epoch_loss_steps"] = String(epochLoss.steps)
            }
            try trainer.checkpoint(progress: progress, history: history).write(to: checkpointing.url)
            lastCheckpoint = ContinuousClock.now
        }

        while fraction(step: position.step, elapsed: elapsedBefore + (ContinuousClock.now - start).seconds) < 1 {
            if position.cursor >= order.count {
                if schedule.isMetricDriven, epochLoss.steps > 0 {
                    try trainer.stepSchedule(metric: epochLoss.sum / Double(epochLoss.steps))
                }
                epochLoss = (0, 0)
                position.epoch += 1
                position.cursor = 0
                batch = try data(position.epoch)
                order = epochOrder(count: batch.count, epoch: position.epoch)
            }
            let end = min(position.cursor + batchSize, order.count)
            rows.removeAll(keepingCapacity: true)
            rows.append(contentsOf: order[position.cursor..<end])
            position.cursor = end
            let report = try trainer.step(batch, rows: rows)
            position.step += 1
            result.steps = position.step
            result.stepsThisRun += 1
            result.sequencesThisRun += rows.count
            if report.skipped {
                result.skipped += 1
                badSteps += 1
                guard badSteps < maximumBadSteps else {
                    let saved = checkpointing.map(\.url).flatMap { FileManager.default.fileExists(atPath: $0.path) ? $0 : nil }
                    throw TrainingDiverged(steps: badSteps, checkpoint: saved)
                }
            } else {
                badSteps = 0
                epochLoss = (epochLoss.sum + report.loss, epochLoss.steps + 1)
                result.finalLoss = report.loss
                result.finalGradientNorm = report.gradientNorm
                smoothedLoss = smoothedLoss.isNaN ? report.loss : 0.9 * smoothedLoss + 0.1 * report.loss
                result.trainingCurve.append((Double(position.step), report.loss))
            }
            let elapsed = elapsedBefore + (ContinuousClock.now - start).seconds
            let done = fraction(step: position.step, elapsed: elapsed)
            if averagingShare > 0, done > 1 - averagingShare {
                average.add(model)
                if done >= 1 { try average.assign(to: model) }
            }
            if let score, done >= nextScore || done >= 1 {
                let current = try score()
                latestScore = current
                result.validationCurve.append((Double(position.step), current.loss))
                nextScore = (done * 10).rounded(.down) / 10 + 0.1
            }
            if let checkpointing {
                if let signal = Interrupts.pending {
                    progress.finish()
                    try save(to: checkpointing)
                    throw Interrupted(signal: signal, checkpoint: checkpointing.url)
                }
                let sinceCheckpoint = (ContinuousClock.now - lastCheckpoint).seconds
                if checkpointing.everySteps.map({ position.step % $0 == 0 }) == true
                    || checkpointing.everySeconds.map({ sinceCheckpoint >= $0 }) == true {
                    try save(to: checkpointing)
                }
            }
            let thisRun = max((ContinuousClock.now - start).seconds, 1e-9)
            let rate = Double(result.sequencesThisRun * unit.perSequence) / thisRun
            var line = String(format: "step %d", position.step) + (steps.map { "/\($0)" } ?? "")
            line += String(format: "  loss %.4f", smoothedLoss)
            if let latestScore { line += "  " + latestScore.summary }
            if result.skipped > 0 { line += "  skipped \(result.skipped)" }
            line += String(format: "  %.0f %@/s  %@ elapsed  %@ left", rate, unit.name, formatDuration(elapsed),
                           formatDuration(done > 0 ? max(0, elapsed / done - elapsed) : .nan))
            progress.update(line, force: done >= 1)
        }
        progress.finish()
        result.seconds = (ContinuousClock.now - start).seconds
        return result
    }

    /// How much of the budget `step` steps and `elapsed` seconds use up.
    private func fraction(step: Int, elapsed: Double) -> Double {
        max(steps.map { Double(step) / Double($0) } ?? 0, seconds.map { elapsed / $0 } ?? 0)
    }

    /// The rows of an epoch in the order they are drawn: a shuffle seeded by
    /// the run's seed and the epoch number, or data set order.
    private func epochOrder(count: Int, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard shuffle else { return order }
        var generator = SeededGenerator(seed: seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
        order.shuffle(using: &generator)
        return order
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

    func learningRate(_ fallback: Double) throws -> Float { Float(try number("lr", default: kindLearningRate.map(Double.init) ?? fallback)) }
    func weightDecay(_ fallback: Double) throws -> Float { Float(try number("weight-decay", default: kindWeightDecay.map(Double.init) ?? fallback)) }
    func momentum() throws -> Float { Float(try number("momentum", default: 0)) }

    private func number(_ name: String, default fallback: Double) throws -> Double {
        read.insert(name)
        return try arguments.number(name, default: fallback)!
    }
}

/// The running mean of a model's weights over some of its training steps.
private struct WeightAverage {
    private var sums: [[Double]]
    private var count = 0

    init(model: Model) { sums = model.parameterNames.map { _ in [] } }

    mutating func add(_ model: Model) {
        for (index, name) in model.parameterNames.enumerated() {
            let values = model.parameter(name)!
            if sums[index].isEmpty { sums[index] = [Double](repeating: 0, count: values.count) }
            for position in values.indices { sums[index][position] += Double(values[position]) }
        }
        count += 1
    }

    func assign(to model: Model) throws {
        guard count > 0 else { return }
        for (index, name) in model.parameterNames.enumerated() {
            try model.setParameter(name, to: sums[index].map { Float($0 / Double(count)) })
        }
    }
}

/// Training that left the finite numbers: too many consecutive steps with a
/// non-finite loss or gradient, or weights that overflowed.
struct TrainingDiverged: Error, CustomStringConvertible {
    let reason: String
    let checkpoint: URL?

    init(reason: String, checkpoint: URL?) {
        self.reason = reason
        self.checkpoint = checkpoint
    }

    init(steps: Int, checkpoint: URL?) {
        self.init(reason: "\(steps) consecutive steps had a non-finite loss or gradient and were skipped", checkpoint: checkpoint)
    }

    var description: String {
        "training diverged: \(reason) (try a lower --lr or --clip)"
            + (checkpoint.map { "; the last good checkpoint \($0.path) is intact" } ?? "")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
