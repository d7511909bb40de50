import Foundation
import RNNKit

/// The optimiser, clipping and mini-batch schedule a `train` run uses, read
/// from the shared options.
struct TrainingPlan {
    var optimizer: Optimizer
    var clipping: GradientClipping
    var steps: Int
    var batchSize: Int
    var shuffle: Bool
    var seed: UInt64

    init(_ arguments: Arguments, defaultOptimizer: Optimizer, defaultClip: Double, dataCount: Int, seed: UInt64) throws {
        let momentum = Float(try arguments.number("momentum", default: 0)!)
        let weightDecay = Float(try arguments.number("weight-decay", default: 0)!)
        let name = try arguments.choice("optimizer", default: OptimizerName(defaultOptimizer))!
        switch name {
        case .sgd:
            optimizer = .sgd(learningRate: Float(try arguments.number("lr", default: 0.01)!), momentum: momentum, weightDecay: weightDecay)
        case .adam:
            if arguments.has("momentum") { throw UsageError("--momentum applies to sgd; Adam has its own moments") }
            optimizer = .adam(learningRate: Float(try arguments.number("lr", default: Double(defaultOptimizer.learningRate))!),
                              weightDecay: weightDecay)
        }
        if arguments.has("clip") && arguments.has("clip-value") { throw UsageError("use --clip or --clip-value, not both") }
        if let limit = try arguments.number("clip-value"), limit > 0 {
            clipping = .value(Float(limit))
        } else {
            let norm = try arguments.number("clip", default: defaultClip)!
            clipping = norm > 0 ? .norm(Float(norm)) : .none
        }
        steps = try arguments.integer("steps", default: 100)!
        batchSize = min(try arguments.integer("batch", default: 32)!, dataCount)
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
        var losses: [Double] = []
    }

    /// Runs the steps over mini-batches of `data`, drawn in order or from a
    /// seeded shuffle that is redrawn every epoch.
    func run(model: Model, data: SequenceBatch, threads: Int?, quiet: Bool) throws -> Result {
        let trainer = Trainer(model: model, optimizer: optimizer, clipping: clipping, threads: threads)
        var generator = SeededGenerator(seed: seed ^ 0x5EED)
        var order = Array(0..<data.count)
        var cursor = data.count
        var rows = [Int](repeating: 0, count: batchSize)
        var result = Result()
        let progress = ProgressLine(quiet: quiet)
        let start = ContinuousClock.now
        for step in 1...steps {
            for index in 0..<batchSize {
                if cursor == order.count {
                    if shuffle { order.shuffle(using: &generator) }
                    cursor = 0
                }
                rows[index] = order[cursor]
                cursor += 1
            }
            let report = try trainer.step(data, rows: rows)
            result.steps = step
            result.finalLoss = report.loss
            result.finalGradientNorm = report.gradientNorm
            result.losses.append(report.loss)
            if report.skipped { result.skipped += 1 }
            let elapsed = (ContinuousClock.now - start).seconds
            progress.update(String(format: "step %d/%d  loss %.5g  grad norm %.3g  %.1f seq/s  elapsed %@  eta %@",
                                   step, steps, report.loss, report.gradientNorm, Double(step * batchSize) / elapsed,
                                   formatDuration(elapsed), formatDuration(elapsed / Double(step) * Double(steps - step))),
                            force: step == steps)
        }
        progress.finish()
        result.seconds = (ContinuousClock.now - start).seconds
        return result
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
