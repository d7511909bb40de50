import Foundation
import RNNKit
import RNNKitCHeader

// rnnkit.h's training sections: settings, a trainer's single steps, and a
// whole `TrainingRun`.

@c(rnnkit_training_settings_init)
public func trainingSettingsInit(_ settings: UnsafeMutablePointer<rnnkit_training_settings>?) {
    guard let settings else { return }
    // The library's own defaults, so that C and Swift start from the same run.
    let run = TrainingRun.Settings(optimizer: .adam(), steps: 100)
    let adam = Adam(learningRate: 1e-3)
    settings.pointee = rnnkit_training_settings(
        struct_size: UInt32(MemoryLayout<rnnkit_training_settings>.size), optimizer: Int32(RNNKIT_OPTIMIZER_ADAM),
        learning_rate: adam.learningRate, momentum: 0, beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon,
        weight_decay: adam.weightDecay, schedule: Int32(RNNKIT_SCHEDULE_CONSTANT), schedule_steps: 0,
        schedule_warmup: 0, schedule_factor: 0.1, schedule_patience: 10, clipping: Int32(RNNKIT_CLIP_NONE),
        clip_limit: 0, threads: 0, batch_size: Int64(run.batchSize), accumulation: Int64(run.accumulation),
        shuffle: run.shuffle ? 1 : 0, seed: run.seed, steps: 100, seconds: 0, averaging_share: run.averagingShare,
        maximum_bad_steps: Int64(run.maximumBadSteps), early_stopping_patience: 0, restore_best: 0,
        checkpoint_path: nil, checkpoint_every_steps: 0, checkpoint_every_seconds: 0, resume: 0)
}

/// What a trainer takes from the settings: optimiser, schedule, clipping,
/// threads and the seed of its dropout masks.
private struct StepSettings {
    var optimizer: Optimizer
    var schedule: LearningRateSchedule
    var clipping: GradientClipping
    var threads: Int?
    var seed: UInt64

    init(_ s: rnnkit_training_settings) throws {
        seed = s.seed
        switch Int(s.optimizer) {
        case RNNKIT_OPTIMIZER_ADAM:
            optimizer = .adam(
                learningRate: s.learning_rate, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon,
                weightDecay: s.weight_decay)
        case RNNKIT_OPTIMIZER_ADAMW:
            optimizer = .adamW(
                learningRate: s.learning_rate, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon,
                weightDecay: s.weight_decay)
        case RNNKIT_OPTIMIZER_SGD:
            optimizer = .sgd(learningRate: s.learning_rate, momentum: s.momentum, weightDecay: s.weight_decay)
        default: throw InterfaceError.invalid("optimizer is \(s.optimizer), expected 0...2")
        }
        let counts = Int(Int32.min)...Int(Int32.max)
        switch Int(s.schedule) {
        case RNNKIT_SCHEDULE_CONSTANT: schedule = .constant
        case RNNKIT_SCHEDULE_STEP:
            schedule = .step(size: try count(s.schedule_steps, "schedule_steps", in: counts), gamma: s.schedule_factor)
        case RNNKIT_SCHEDULE_COSINE:
            schedule = .cosine(
                steps: try count(s.schedule_steps, "schedule_steps", in: counts),
                warmup: try count(s.schedule_warmup, "schedule_warmup", in: counts))
        case RNNKIT_SCHEDULE_PLATEAU:
            schedule = .plateau(
                factor: s.schedule_factor, patience: try count(s.schedule_patience, "schedule_patience", in: counts))
        default: throw InterfaceError.invalid("schedule is \(s.schedule), expected 0...3")
        }
        switch Int(s.clipping) {
        case RNNKIT_CLIP_NONE: clipping = .none
        case RNNKIT_CLIP_NORM: clipping = .norm(s.clip_limit)
        case RNNKIT_CLIP_VALUE: clipping = .value(s.clip_limit)
        default: throw InterfaceError.invalid("clipping is \(s.clipping), expected 0...2")
        }
        threads = try RNNKitC.threads(s.threads)
        try optimizer.validate()
        try schedule.validate()
        try clipping.validate()
    }
}

// MARK: - A trainer

@c(rnnkit_trainer_create)
public func trainerCreate(
    _ model: OpaquePointer?, _ settings: UnsafePointer<rnnkit_training_settings>?,
    _ trainer: UnsafeMutablePointer<OpaquePointer?>?
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self)
        guard let trainer else { throw InterfaceError.null("trainer") }
        let s = try StepSettings(try filled(settings, "settings") { $0.struct_size })
        let made = Trainer(
            model: model.model, optimizer: s.optimizer, schedule: s.schedule, clipping: s.clipping, threads: s.threads,
            seed: s.seed)
        trainer.pointee = handle(TrainerHandle(model: model, trainer: made))
    }
}

@c(rnnkit_trainer_step)
public func trainerStep(
    _ trainer: OpaquePointer?, _ batch: UnsafePointer<rnnkit_batch>?,
    _ report: UnsafeMutablePointer<rnnkit_step_report>?
) -> rnnkit_status {
    withStatus {
        let trainer = try object(trainer, "trainer", as: TrainerHandle.self).trainer
        let step = try trainer.step(try SequenceBatch(batch, "batch"))
        report?.pointee = rnnkit_step_report(
            loss: step.loss, gradient_norm: step.gradientNorm, skipped: step.skipped ? 1 : 0)
    }
}

@c(rnnkit_trainer_loss)
public func trainerLoss(
    _ trainer: OpaquePointer?, _ batch: UnsafePointer<rnnkit_batch>?, _ loss: UnsafeMutablePointer<Double>?
) -> rnnkit_status {
    withStatus {
        let trainer = try object(trainer, "trainer", as: TrainerHandle.self).trainer
        guard let loss else { throw InterfaceError.null("loss") }
        loss.pointee = try trainer.loss(try SequenceBatch(batch, "batch"))
    }
}

@c(rnnkit_trainer_free)
public func trainerFree(_ trainer: OpaquePointer?) { release(trainer) }

// MARK: - A training run

@c(rnnkit_train)
public func train(
    _ model: OpaquePointer?, _ settings: UnsafePointer<rnnkit_training_settings>?,
    _ training: UnsafePointer<rnnkit_batch>?, _ validation: UnsafePointer<rnnkit_batch>?,
    _ progress: rnnkit_progress_callback?, _ userData: UnsafeMutableRawPointer?,
    _ summary: UnsafeMutablePointer<rnnkit_summary>?
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        let s = try filled(settings, "settings") { $0.struct_size }
        let step = try StepSettings(s)
        let batch = try SequenceBatch(training, "training")
        let held = try validation.map { try SequenceBatch($0, "validation") }
        guard s.steps >= -1 else { throw InterfaceError.invalid("steps is \(s.steps), expected -1 (none) or more") }
        guard s.seconds >= 0 else { throw InterfaceError.invalid("seconds is \(s.seconds), expected 0 (none) or more") }
        // Checked here too, so that the messages use the header's names.
        let counts = 0...Int(Int32.max), positive = 1...Int(Int32.max)
        guard (0...1).contains(s.averaging_share) else {
            throw InterfaceError.invalid("averaging_share is \(s.averaging_share), expected 0...1")
        }
        var run = TrainingRun(
            settings: TrainingRun.Settings(
                optimizer: step.optimizer, schedule: step.schedule, clipping: step.clipping,
                batchSize: try count(s.batch_size, "batch_size", in: positive),
                accumulation: try count(s.accumulation, "accumulation", in: positive),
                shuffle: try flag(s.shuffle, "shuffle"), seed: s.seed,
                steps: s.steps == -1 ? nil : try count(s.steps, "steps", in: counts),
                seconds: s.seconds == 0 ? nil : s.seconds, threads: step.threads,
                averagingShare: s.averaging_share,
                maximumBadSteps: try count(s.maximum_bad_steps, "maximum_bad_steps", in: positive),
                checkpointing: try checkpointing(s),
                earlyStopping: s.early_stopping_patience == 0
                    ? nil
                    : TrainingRun.EarlyStopping(
                        patience: try count(s.early_stopping_patience, "early_stopping_patience", in: counts),
                        restoreBest: try flag(s.restore_best, "restore_best"))),
            batch: batch)
        // Validation scores with its own forward-only workspace, on the run's threads.
        if let held {
            let scorer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: step.threads)
            run.validation = { try scorer.loss(held) }
        }
        let cancellation = TrainingCancellation()
        run.cancellation = cancellation
        if let progress {
            run.progress = { report in
                var c = rnnkit_progress(
                    step: Int64(report.step), total_steps: Int64(report.totalSteps ?? -1),
                    smoothed_loss: report.smoothedLoss, validation_loss: report.validationLoss ?? .nan,
                    skipped_steps: Int64(report.skippedSteps), sequences_per_second: report.sequencesPerSecond,
                    elapsed_seconds: report.elapsed, remaining_seconds: report.estimatedRemaining ?? .nan,
                    is_final: report.isFinal ? 1 : 0)
                if progress(&c, userData) != 0 { cancellation.cancel() }
            }
        }
        let result = try run.run(model: model)
        summary?.pointee = rnnkit_summary(
            steps: Int64(result.steps), final_loss: result.finalLoss, final_gradient_norm: result.finalGradientNorm,
            skipped_steps: Int64(result.skippedSteps), seconds: result.seconds,
            steps_this_run: Int64(result.stepsThisRun), sequences_this_run: Int64(result.sequencesThisRun),
            sequences_per_second: result.sequencesPerSecond,
            stop_reason: Int32(
                result.stopReason == .budgetSpent ? RNNKIT_STOP_BUDGET_SPENT : RNNKIT_STOP_EARLY_STOPPING),
            best_step: Int64(result.best?.step ?? -1), best_validation_loss: result.best?.loss ?? .nan)
    }
}

private func checkpointing(_ s: rnnkit_training_settings) throws -> TrainingRun.Checkpointing? {
    guard let path = s.checkpoint_path else {
        guard s.resume == 0 else { throw InterfaceError.invalid("resume is set without a checkpoint_path") }
        return nil
    }
    let url = URL(fileURLWithPath: try string(path, "checkpoint_path"))
    guard s.checkpoint_every_steps >= 0, s.checkpoint_every_seconds >= 0 else {
        throw InterfaceError.invalid(
            "checkpointing every \(s.checkpoint_every_steps) steps or \(s.checkpoint_every_seconds) seconds, "
                + "expected 0 (never) or more")
    }
    let resume = try flag(s.resume, "resume") && FileManager.default.fileExists(atPath: url.path)
    return TrainingRun.Checkpointing(
        url: url,
        everySteps: s.checkpoint_every_steps == 0
            ? nil : try count(s.checkpoint_every_steps, "checkpoint_every_steps", in: 1...Int(Int32.max)),
        everySeconds: s.checkpoint_every_seconds == 0 ? nil : s.checkpoint_every_seconds,
        resume: resume ? try Checkpoint(contentsOf: url) : nil)
}
