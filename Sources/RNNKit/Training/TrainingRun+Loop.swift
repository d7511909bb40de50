import Foundation

/// The state of one `TrainingRun.run(model:)`: the trainer, the position in
/// the data, the curves, and what checkpoints carry to a resumed run.
struct _TrainingLoop {
    /// The loop's position: which epoch, and how far into its shuffled order.
    private struct Position {
        var step = 0
        var epoch = 0
        var cursor = 0
    }

    /// The largest count a checkpoint's progress may hold: far beyond any run,
    /// so an edited checkpoint cannot index or seed out of range.
    private static let largestCount = 1 << 31

    private let definition: TrainingRun
    private let settings: TrainingRun.Settings
    private let model: Model
    private let trainer: Trainer
    private var summary = TrainingSummary()
    private var position = Position()
    /// A plateau schedule steps with each epoch's mean training loss.
    private var epochLoss = (sum: 0.0, steps: 0)
    private var elapsedBefore = 0.0
    /// When this process started training: after resuming and loading the first epoch.
    private var start = ContinuousClock.now
    private var lastCheckpoint = ContinuousClock.now
    // Early stopping: the best round, rounds since it, and its weights when they are to be restored.
    private var best: LossPoint?
    private var roundsWithoutImprovement = 0
    private var bestWeights: [[Float]]?

    init(run: TrainingRun, model: Model) {
        definition = run
        settings = run.settings
        self.model = model
        trainer = Trainer(
            model: model, optimizer: settings.optimizer, schedule: settings.schedule,
            clipping: settings.clipping, threads: settings.threads, communicator: settings.communicator,
            seed: settings.seed)
    }

    mutating func train() throws -> TrainingSummary {
        if let checkpoint = settings.checkpointing?.resume { try resume(from: checkpoint) }
        var batch = try definition.data(position.epoch)
        var order = epochOrder(count: batch.count, epoch: position.epoch)
        var rows: [Int] = []
        let rowsPerStep = settings.batchSize * settings.accumulation
        rows.reserveCapacity(rowsPerStep)
        var smoothedLoss = summary.trainingCurve.last?.loss ?? .nan
        var badSteps = 0
        var average = WeightAverage(model: model)
        start = ContinuousClock.now
        lastCheckpoint = start
        var nextScore = (fraction(step: position.step, elapsed: elapsedBefore) * 10).rounded(.down) / 10 + 0.1
        // The training time as of the last step, the same on every process.
        var clock = elapsedBefore

        while fraction(step: position.step, elapsed: clock) < 1 {
            if position.cursor >= order.count {
                if settings.schedule.isMetricDriven, epochLoss.steps > 0 {
                    try trainer.stepSchedule(metric: epochLoss.sum / Double(epochLoss.steps))
                }
                epochLoss = (0, 0)
                position.epoch += 1
                position.cursor = 0
                batch = try definition.data(position.epoch)
                order = epochOrder(count: batch.count, epoch: position.epoch)
            }
            let end = min(position.cursor + rowsPerStep, order.count)
            rows.removeAll(keepingCapacity: true)
            rows.append(contentsOf: order[position.cursor..<end])
            position.cursor = end
            let report = try trainer.step(
                batch, rows: rows, microBatch: settings.accumulation > 1 ? settings.batchSize : nil)
            let agreed = agreeOnClock()
            clock = agreed.elapsed
            position.step += 1
            summary.steps = position.step
            summary.stepsThisRun += 1
            summary.sequencesThisRun += rows.count
            if report.skipped {
                summary.skippedSteps += 1
                badSteps += 1
                guard badSteps < settings.maximumBadSteps else {
                    let saved = settings.checkpointing.map(\.url)
                        .flatMap { FileManager.default.fileExists(atPath: $0.path) ? $0 : nil }
                    throw TrainingDiverged(steps: badSteps, checkpoint: saved)
                }
            } else {
                badSteps = 0
                epochLoss = (epochLoss.sum + report.loss, epochLoss.steps + 1)
                summary.finalLoss = report.loss
                summary.finalGradientNorm = report.gradientNorm
                smoothedLoss = smoothedLoss.isNaN ? report.loss : 0.9 * smoothedLoss + 0.1 * report.loss
                summary.trainingCurve.append(LossPoint(step: position.step, loss: report.loss))
            }
            let done = fraction(step: position.step, elapsed: clock)
            if settings.averagingShare > 0, done > 1 - settings.averagingShare {
                average.add(model)
                if done >= 1 { try average.assign(to: model) }
            }
            var stopping = false
            if let validation = definition.validation, done >= nextScore || done >= 1 {
                let loss = try validation()
                summary.validationCurve.append(LossPoint(step: position.step, loss: loss))
                nextScore = (done * 10).rounded(.down) / 10 + 0.1
                stopping = try observeValidation(loss, last: done >= 1)
            }
            if !stopping {
                if agreed.cancelled {
                    if let checkpointing = settings.checkpointing { try save(to: checkpointing.url, elapsed: clock) }
                    throw TrainingCancelled(checkpoint: settings.checkpointing?.url, steps: position.step)
                }
                if let checkpointing = settings.checkpointing {
                    let sinceCheckpoint = (ContinuousClock.now - lastCheckpoint).inSeconds
                    if checkpointing.everySteps.map({ position.step % $0 == 0 }) == true
                        || checkpointing.everySeconds.map({ sinceCheckpoint >= $0 }) == true
                    {
                        try save(to: checkpointing.url, elapsed: clock)
                    }
                }
            }
            if let progress = definition.progress {
                let elapsed = clock
                let thisRun = max((ContinuousClock.now - start).inSeconds, 1e-9)
                progress(
                    TrainingProgress(
                        step: position.step, totalSteps: settings.steps, smoothedLoss: smoothedLoss,
                        validationLoss: summary.validationCurve.last?.loss, skippedSteps: summary.skippedSteps,
                        sequencesPerSecond: Double(summary.sequencesThisRun) / thisRun, elapsed: elapsed,
                        estimatedRemaining: done > 0 ? max(0, elapsed / done - elapsed) : nil,
                        isFinal: done >= 1 || stopping))
            }
            if stopping {
                summary.stopReason = .earlyStopped
                break
            }
        }
        summary.seconds = (ContinuousClock.now - start).inSeconds
        summary.best = best
        return summary
    }

    /// Training time so far, counting the time before a resume.
    private var elapsed: Double { elapsedBefore + (ContinuousClock.now - start).inSeconds }

    /// The training time and whether the run is cancelled, as process 0 sees
    /// them: every process must stop, validate, average and save at the same
    /// step, and clocks and signals differ between processes.
    private func agreeOnClock() -> (elapsed: Double, cancelled: Bool) {
        var values = SIMD2(elapsed, definition.cancellation?.isCancelled == true ? 1 : 0)
        let communicator = settings.communicator
        if communicator.size > 1 { withUnsafeMutableBytes(of: &values) { communicator.broadcast($0, root: 0) } }
        return (values[0], values[1] != 0)
    }

    /// Early stopping's step after a validation round: records a new best,
    /// and puts the best weights back when the run ends here.
    /// - Returns: whether the run stops early.
    private mutating func observeValidation(_ loss: Double, last: Bool) throws -> Bool {
        guard let earlyStopping = settings.earlyStopping else { return false }
        if TrainingRun.EarlyStopping.improves(loss, on: best?.loss) {
            best = LossPoint(step: position.step, loss: loss)
            roundsWithoutImprovement = 0
            if earlyStopping.restoreBest { bestWeights = model.parameterNames.map { model.parameter($0)! } }
        } else {
            roundsWithoutImprovement += 1
        }
        let stopping = roundsWithoutImprovement >= earlyStopping.patience && !last
        if earlyStopping.restoreBest, stopping || last, let bestWeights, best?.step != position.step {
            for (name, values) in zip(model.parameterNames, bestWeights) { try model.setParameter(name, to: values) }
        }
        return stopping
    }

    /// How much of the budget `step` steps and `elapsed` seconds use up.
    private func fraction(step: Int, elapsed: Double) -> Double {
        max(settings.steps.map { Double(step) / Double($0) } ?? 0, settings.seconds.map { elapsed / $0 } ?? 0)
    }

    /// The rows of an epoch in the order they are drawn: a shuffle seeded by
    /// the run's seed and the epoch number, or data set order.
    private func epochOrder(count: Int, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard settings.shuffle else { return order }
        var generator = SeededGenerator(seed: settings.seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
        order.shuffle(using: &generator)
        return order
    }

    // MARK: Checkpoints

    /// Progress keys and history series of early stopping's state.
    private enum EarlyStoppingKey {
        static let bestStep = "early_stopping_best_step"
        static let bestLoss = "early_stopping_best_loss"
        static let rounds = "early_stopping_rounds_without_improvement"
        static let weightsPrefix = "early_stopping_best."
    }

    /// Writes a checkpoint from process 0; the others hold the same state.
    private mutating func save(to url: URL, elapsed: Double) throws {
        lastCheckpoint = ContinuousClock.now
        guard settings.communicator.isLead else { return }
        var history: [String: [Float]] = [
            "train_step": summary.trainingCurve.map { Float($0.step) },
            "train_loss": summary.trainingCurve.map { Float($0.loss) },
            "validation_step": summary.validationCurve.map { Float($0.step) },
            "validation_loss": summary.validationCurve.map { Float($0.loss) }
        ]
        var progress = [
            "step": String(position.step), "epoch": String(position.epoch),
            "cursor": String(position.cursor), "seconds": String(elapsed), "signature": settings.signature
        ]
        if settings.schedule.isMetricDriven {
            progress["epoch_loss_sum"] = String(epochLoss.sum)
            progress["epoch_loss_steps"] = String(epochLoss.steps)
        }
        if settings.earlyStopping != nil {
            progress[EarlyStoppingKey.rounds] = String(roundsWithoutImprovement)
            if let best {
                progress[EarlyStoppingKey.bestStep] = String(best.step)
                progress[EarlyStoppingKey.bestLoss] = String(best.loss)
            }
            for (name, values) in zip(model.parameterNames, bestWeights ?? []) {
                history[EarlyStoppingKey.weightsPrefix + name] = values
            }
        }
        try trainer.checkpoint(progress: progress, history: history).write(to: url)
    }

    private mutating func resume(from checkpoint: Checkpoint) throws {
        let saved = checkpoint.progress
        guard saved["signature"] == settings.signature else {
            throw TrainingRunError.resumeSettingsMismatch(saved: saved["signature"], current: settings.signature)
        }
        try trainer.restoreOptimizer(from: checkpoint)
        func count(_ key: String) throws(TrainingRunError) -> Int {
            guard let value = Int(saved[key] ?? "0"), (0...Self.largestCount).contains(value) else {
                throw .invalidResumeProgress(
                    key: key, value: saved[key] ?? "",
                    expected: "a count this run could have saved")
            }
            return value
        }
        func number(_ key: String) throws(TrainingRunError) -> Double {
            guard let value = Double(saved[key] ?? ""), value.isFinite else {
                throw .invalidResumeProgress(key: key, value: saved[key] ?? "", expected: "a finite number")
            }
            return value
        }
        position = Position(step: try count("step"), epoch: try count("epoch"), cursor: try count("cursor"))
        if settings.schedule.isMetricDriven {
            epochLoss = (try number("epoch_loss_sum"), try count("epoch_loss_steps"))
        }
        if let earlyStopping = settings.earlyStopping {
            roundsWithoutImprovement = try count(EarlyStoppingKey.rounds)
            if saved[EarlyStoppingKey.bestStep] != nil {
                best = LossPoint(
                    step: try count(EarlyStoppingKey.bestStep),
                    loss: try number(EarlyStoppingKey.bestLoss))
            }
            if earlyStopping.restoreBest, best != nil {
                bestWeights = try model.parameterNames.map { name in
                    let values = checkpoint.history(EarlyStoppingKey.weightsPrefix + name)
                    guard values.count == model.parameter(name)!.count else {
                        throw TrainingRunError.invalidResumeProgress(
                            key: "history." + EarlyStoppingKey.weightsPrefix + name, value: "\(values.count) values",
                            expected: "the \(model.parameter(name)!.count) values of the parameter")
                    }
                    return values
                }
            }
        }
        elapsedBefore = Double(saved["seconds"] ?? "") ?? 0
        summary.steps = position.step
        summary.trainingCurve = curve(checkpoint, steps: "train_step", losses: "train_loss")
        summary.validationCurve = curve(checkpoint, steps: "validation_step", losses: "validation_loss")
    }

    /// A loss curve saved with a checkpoint; points whose step is not a whole
    /// count (an edited file) are left out.
    private func curve(_ checkpoint: Checkpoint, steps: String, losses: String) -> [LossPoint] {
        zip(checkpoint.history(steps), checkpoint.history(losses)).compactMap { step, loss in
            Int(exactly: step).map { LossPoint(step: $0, loss: Double(loss)) }
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
