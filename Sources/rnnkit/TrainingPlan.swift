import Foundation
import RNNKit

/// The optimiser, clipping, budget and mini-batch schedule of a `train` run,
/// read from the shared options with defaults chosen per kind of data.
struct TrainingPlan {
    struct Defaults {
        var optimizer: Optimizer = .adam()
        var clip: Double = 0
        var batchSize = 32
        var steps: Int? = 100
        var seconds: Double?
    }

    var optimizer: Optimizer
    var clipping: GradientClipping
    /// Stop after this many steps, or when `seconds` run out, whichever comes first.
    var steps: Int?
    var seconds: Double?
    var batchSize: Int
    var shuffle: Bool
    var seed: UInt64

    static let options: [OptionSpec] = [
        .value("steps", "N", "optimiser steps"),
        .value("epochs", "N", "passes over the training data (instead of --steps)"),
        .value("time", "SECONDS", "stop after this much training time"),
        .value("batch", "N", "sequences per mini-batch"),
        .flag("no-shuffle", "take mini-batches in data set order"),
        .value("optimizer", "NAME", "sgd or adam (default adam)"),
        .value("lr", "X", "learning rate (default 0.001 for adam, 0.01 for sgd)"),
        .value("momentum", "X", "SGD momentum (default 0)"),
        .value("weight-decay", "X", "L2 weight decay (default 0)"),
        .value("clip", "X", "clip the global gradient norm at X; 0 turns clipping off"),
        .value("clip-value", "X", "clamp every gradient element into -X...X instead"),
    ]

    init(_ arguments: Arguments, defaults: Defaults, trainingCount: Int, seed: UInt64) throws {
        let momentum = Float(try arguments.number("momentum", default: 0)!)
        let weightDecay = Float(try arguments.number("weight-decay", default: 0)!)
        let name = try arguments.choice("optimizer", default: OptimizerName(defaults.optimizer))!
        switch name {
        case .sgd:
            let learningRate = try arguments.number("lr", default: 0.01)!
            optimizer = .sgd(learningRate: Float(learningRate), momentum: momentum, weightDecay: weightDecay)
        case .adam:
            if arguments.has("momentum") { throw UsageError("--momentum applies to sgd; Adam has its own moments") }
            let fallback = defaults.optimizer.learningRate
            let learningRate = try arguments.number("lr", default: Double(name == OptimizerName(defaults.optimizer) ? fallback : 1e-3))!
            optimizer = .adam(learningRate: Float(learningRate), weightDecay: weightDecay)
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
        shuffle = !arguments.flag("no-shuffle")
        self.seed = seed
    }

    enum OptimizerName: String, CaseIterable {
        case sgd, adam
        init(_ optimizer: Optimizer) {
            if case .sgd = optimizer { self = .sgd } else { self = .adam }
        }
    }

    struct Result {
        var steps = 0
        var finalLoss = Double.nan
        var finalGradientNorm = Double.nan
        var skipped = 0
        var seconds = 0.0
        var trainingCurve: [(x: Double, y: Double)] = []
        var validationCurve: [(x: Double, y: Double)] = []
        var sequencesPerSecond: Double { seconds > 0 ? Double(steps) * sequencesPerStep / seconds : 0 }
        var sequencesPerStep = 0.0
    }

    /// Trains over mini-batches drawn from `data(epoch)` (in order, or from a
    /// seeded shuffle redrawn every epoch), stopping at the step or time
    /// budget, scoring `validate` about ten times along the way.
    func run(model: Model, threads: Int?, progress: ProgressLine, unit: (name: String, perSequence: Int),
             data: (_ epoch: Int) throws -> SequenceBatch, validate: (() throws -> Double)?) throws -> Result {
        let trainer = Trainer(model: model, optimizer: optimizer, clipping: clipping, threads: threads)
        var generator = SeededGenerator(seed: seed ^ 0x5EED)
        var epoch = 0
        var batch = try data(epoch)
        var order = Array(0..<batch.count)
        if shuffle { order.shuffle(using: &generator) }
        var cursor = 0
        var rows = [Int](repeating: 0, count: min(batchSize, batch.count))
        var result = Result()
        result.sequencesPerStep = Double(rows.count)
        var smoothedLoss = Double.nan
        var validationLoss = Double.nan
        let start = ContinuousClock.now
        var nextValidation = 0.1
        while true {
            for index in rows.indices {
                if cursor == order.count {
                    epoch += 1
                    batch = try data(epoch)
                    if order.count != batch.count { order = Array(0..<batch.count) }
                    if shuffle { order.shuffle(using: &generator) }
                    cursor = 0
                }
                rows[index] = order[cursor]
                cursor += 1
            }
            let report = try trainer.step(batch, rows: rows)
            result.steps += 1
            if report.skipped { result.skipped += 1 } else {
                result.finalLoss = report.loss
                result.finalGradientNorm = report.gradientNorm
                smoothedLoss = smoothedLoss.isNaN ? report.loss : 0.9 * smoothedLoss + 0.1 * report.loss
                result.trainingCurve.append((Double(result.steps), report.loss))
            }
            let elapsed = (ContinuousClock.now - start).seconds
            let fraction = max(steps.map { Double(result.steps) / Double($0) } ?? 0, seconds.map { elapsed / $0 } ?? 0)
            let done = fraction >= 1
            if let validate, fraction >= nextValidation || done {
                validationLoss = try validate()
                result.validationCurve.append((Double(result.steps), validationLoss))
                nextValidation += 0.1
            }
            let rate = Double(result.steps * rows.count * unit.perSequence) / max(elapsed, 1e-9)
            var line = String(format: "step %d", result.steps) + (steps.map { "/\($0)" } ?? "")
            line += String(format: "  loss %.4f", smoothedLoss)
            if !validationLoss.isNaN { line += String(format: "  val %.4f", validationLoss) }
            line += String(format: "  %.0f %@/s  %@ elapsed  %@ left", rate, unit.name, formatDuration(elapsed),
                           formatDuration(fraction > 0 ? elapsed / fraction - elapsed : .nan))
            progress.update(line, force: done)
            if done { break }
        }
        progress.finish()
        result.seconds = (ContinuousClock.now - start).seconds
        return result
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
