import Foundation
import RNNKit

extension TrainingPlan {
    /// A held-out figure: its loss goes on the loss curve, its summary on the
    /// progress line (`test acc 0.962`, `test MAPE 4.1%`).
    struct Score {
        var loss: Double
        var summary: String
    }

    /// Trains on the rows of one fixed batch (a seeded shuffle redrawn every
    /// epoch, or in order), stopping at the step or time budget, and scores
    /// `score` about ten times along the way and once at the end.
    ///
    /// The same schedule as `run(model:threads:progress:unit:data:validate:)`;
    /// this one shows what `score` says (an accuracy, a MAPE) instead of a
    /// bare validation loss. The score is only shown and plotted: it never
    /// steers training, so a test set can be scored without leaking into it.
    ///
    /// With `averagingShare` above 0, the model ends with the mean of its
    /// weights after each step of that last share of the budget (stochastic
    /// weight averaging): on small data sets it varies far less from seed to
    /// seed than the last step's weights.
    ///
    /// These runs are short: they save no checkpoints, and a signal ends
    /// them as it ends any program. After `maximumBadSteps` consecutive
    /// steps with a non-finite loss or gradient they stop with an error.
    func run(model: Model, threads: Int?, progress: ProgressLine, training batch: SequenceBatch, averagingShare: Double = 0,
             maximumBadSteps: Int = 10, score: (() throws -> Score)?) throws -> (result: Result, score: Score?) {
        let trainer = Trainer(model: model, optimizer: optimizer, clipping: clipping, threads: threads)
        var generator = SeededGenerator(seed: seed ^ 0x5EED)
        var order = Array(0..<batch.count)
        if shuffle { order.shuffle(using: &generator) }
        var cursor = 0
        var rows = [Int](repeating: 0, count: min(batchSize, batch.count))
        var result = Result()
        result.sequencesPerStep = Double(rows.count)
        var smoothedLoss = Double.nan
        var badSteps = 0
        var latest: Score?
        let start = ContinuousClock.now
        var nextScore = 0.1
        var average = WeightAverage(model: model)
        while true {
            for index in rows.indices {
                if cursor == order.count {
                    if shuffle { order.shuffle(using: &generator) }
                    cursor = 0
                }
                rows[index] = order[cursor]
                cursor += 1
            }
            let report = try trainer.step(batch, rows: rows)
            result.steps += 1
            result.stepsThisRun += 1
            if report.skipped {
                result.skipped += 1
                badSteps += 1
                guard badSteps < maximumBadSteps else { throw TrainingDiverged(steps: badSteps, checkpoint: nil) }
            } else {
                badSteps = 0
                result.finalLoss = report.loss
                result.finalGradientNorm = report.gradientNorm
                smoothedLoss = smoothedLoss.isNaN ? report.loss : 0.9 * smoothedLoss + 0.1 * report.loss
                result.trainingCurve.append((Double(result.steps), report.loss))
            }
            let elapsed = (ContinuousClock.now - start).seconds
            let fraction = max(steps.map { Double(result.steps) / Double($0) } ?? 0, seconds.map { elapsed / $0 } ?? 0)
            let done = fraction >= 1
            if averagingShare > 0, fraction > 1 - averagingShare || done {
                average.add(model)
                if done { try average.assign(to: model) }
            }
            if let score, fraction >= nextScore || done {
                let current = try score()
                latest = current
                result.validationCurve.append((Double(result.steps), current.loss))
                while nextScore <= fraction { nextScore += 0.1 }
            }
            let rate = Double(result.steps * rows.count) / max(elapsed, 1e-9)
            var line = String(format: "step %d", result.steps) + (steps.map { "/\($0)" } ?? "")
            line += String(format: "  loss %.4f", smoothedLoss)
            if let latest { line += "  " + latest.summary }
            if result.skipped > 0 { line += "  skipped \(result.skipped)" }
            line += String(format: "  %.0f seq/s  %@ elapsed  %@ left", rate, formatDuration(elapsed),
                           formatDuration(fraction > 0 ? max(0, elapsed / fraction - elapsed) : .nan))
            progress.update(line, force: done)
            if done { break }
        }
        progress.finish()
        result.seconds = (ContinuousClock.now - start).seconds
        return (result, latest)
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
