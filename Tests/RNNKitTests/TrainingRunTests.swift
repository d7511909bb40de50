import Foundation
import Testing
import RNNKit

// The public training run end to end on a tiny regressor: resume and
// cancellation keep the bits of an uninterrupted run, progress arrives after
// every step, and early stopping follows its documented rule.

private let configuration = ModelConfiguration(
    cell: .lstm, input: .dense(features: 3), hiddenSize: 8,
    outputSize: 1, topology: .manyToOne)

/// 20 sequences of up to 6 steps: with mini-batches of 6, every epoch ends on a short batch of 2.
private func sequences(seed: UInt64 = 5) -> SequenceBatch {
    var generator = SeededGenerator(seed: seed)
    let inputs = (0..<20 * 6 * 3).map { _ in generator.uniform(-1, 1) }
    let targets: [Float] = (0..<20).map { (row: Int) -> Float in inputs[row * 18] - inputs[row * 18 + 1] }
    return SequenceBatch(
        count: 20, timeSteps: 6, inputs: .features(inputs), lengths: (0..<20).map { Int32(2 + $0 % 5) },
        targets: .values(targets))
}

/// A plateau schedule (so that an epoch's loss sum crosses a resume) and shuffled epochs.
private func settings(
    steps: Int, checkpointing: TrainingRun.Checkpointing? = nil,
    earlyStopping: TrainingRun.EarlyStopping? = nil
) -> TrainingRun.Settings {
    TrainingRun.Settings(
        optimizer: .adam(learningRate: 1e-2), schedule: .plateau(factor: 0.5, patience: 0), clipping: .norm(1),
        batchSize: 6, seed: 3, steps: steps, threads: 1, checkpointing: checkpointing, earlyStopping: earlyStopping)
}

private func temporaryCheckpoint() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("training-run-\(UUID().uuidString).safetensors")
}

@Test func aResumedRunEndsWithTheUninterruptedRunsBits() throws {
    let data = sequences()
    let straight = try Model(configuration, seed: 1)
    let straightSummary = try TrainingRun(settings: settings(steps: 17), batch: data).run(model: straight)

    let url = temporaryCheckpoint()
    defer { try? FileManager.default.removeItem(at: url) }
    // Saves at steps 5 and 10; the second run picks up at step 10, inside the third epoch.
    let first = try Model(configuration, seed: 1)
    _ = try TrainingRun(settings: settings(steps: 12, checkpointing: .init(url: url, everySteps: 5)), batch: data).run(
        model: first)
    let checkpoint = try Checkpoint(contentsOf: url)
    #expect(checkpoint.progress["step"] == "10")
    let resumed = try checkpoint.model()
    let summary = try TrainingRun(
        settings: settings(steps: 17, checkpointing: .init(url: url, resume: checkpoint)), batch: data
    )
    .run(model: resumed)

    #expect(weights(resumed) == weights(straight))
    #expect(summary.steps == 17 && summary.stepsThisRun == 7)
    // The first ten losses come from the checkpoint, stored as Float.
    let saved = straightSummary.trainingCurve.prefix(10).map { LossPoint(step: $0.step, loss: Double(Float($0.loss))) }
    #expect(summary.trainingCurve == saved + straightSummary.trainingCurve.suffix(7))
}

@Test func aResumeWithOtherSettingsIsRefused() throws {
    let url = temporaryCheckpoint()
    defer { try? FileManager.default.removeItem(at: url) }
    let model = try Model(configuration, seed: 1)
    _ = try TrainingRun(settings: settings(steps: 4, checkpointing: .init(url: url, everySteps: 2)), batch: sequences())
        .run(model: model)
    let checkpoint = try Checkpoint(contentsOf: url)
    var other = settings(steps: 8, checkpointing: .init(url: url, resume: checkpoint))
    other.batchSize = 5
    #expect(
        throws: TrainingRunError.resumeSettingsMismatch(saved: settings(steps: 4).signature, current: other.signature)
    ) {
        try TrainingRun(settings: other, batch: sequences()).run(model: try checkpoint.model())
    }
}

@Test func cancellingSavesACheckpointAndThrows() throws {
    let data = sequences()
    let url = temporaryCheckpoint()
    defer { try? FileManager.default.removeItem(at: url) }
    let cancellation = TrainingCancellation()
    let model = try Model(configuration, seed: 1)
    let run = TrainingRun(
        settings: settings(steps: 9, checkpointing: .init(url: url)), batch: data,
        progress: { if $0.step == 3 { cancellation.cancel() } }, cancellation: cancellation)
    // Cancelled during step 3's report, the run stops after step 4.
    do {
        _ = try run.run(model: model)
        Issue.record("a cancelled run returned")
    } catch let cancelled as TrainingCancelled {
        #expect(cancelled.checkpoint == url)
        #expect(cancelled.steps == 4)
    }
    let checkpoint = try Checkpoint(contentsOf: url)
    #expect(checkpoint.progress["step"] == "4")

    // Resuming from it ends where an uninterrupted run does.
    let resumed = try checkpoint.model()
    _ = try TrainingRun(settings: settings(steps: 9, checkpointing: .init(url: url, resume: checkpoint)), batch: data)
        .run(model: resumed)
    let straight = try Model(configuration, seed: 1)
    _ = try TrainingRun(settings: settings(steps: 9), batch: data).run(model: straight)
    #expect(weights(resumed) == weights(straight))
}

@Test func cancellingWithoutCheckpointingThrowsWithoutOne() throws {
    let run = TrainingRun(
        settings: settings(steps: 9), batch: sequences(), cancellation: TrainingCancellation(polling: { true }))
    #expect(throws: TrainingCancelled.self) { try run.run(model: try Model(configuration, seed: 1)) }
}

@Test func progressArrivesAfterEveryStep() throws {
    var reports: [TrainingProgress] = []
    let model = try Model(configuration, seed: 1)
    let scorer = Trainer(model: model, optimizer: .adam())
    let validation = sequences(seed: 6)
    let run = TrainingRun(
        settings: settings(steps: 12), batch: sequences(), validation: { try scorer.loss(validation) },
        progress: { reports.append($0) })
    let summary = try run.run(model: model)
    #expect(reports.map(\.step) == Array(1...12))
    #expect(reports.map(\.isFinal) == Array(repeating: false, count: 11) + [true])
    #expect(reports.allSatisfy { $0.totalSteps == 12 && $0.smoothedLoss.isFinite && $0.sequencesPerSecond > 0 })
    #expect(reports.last!.estimatedRemaining == 0)
    #expect(reports.last!.validationLoss == summary.validationCurve.last!.loss)
    #expect(summary.stopReason == .budgetSpent && summary.steps == 12 && summary.sequencesThisRun == 3 * 20)
}

/// A validation scorer that returns `losses` in turn and records the model's weights at each round.
private final class ScriptedValidation {
    let model: Model
    let losses: [Double]
    var weightsAtRound: [[[Float]]] = []

    init(model: Model, losses: [Double]) {
        self.model = model
        self.losses = losses
    }

    func score() -> Double {
        weightsAtRound.append(weights(model))
        return losses[min(weightsAtRound.count, losses.count) - 1]
    }
}

@Test(arguments: [1, 3])
func aWorseningValidationLossStopsAfterPatienceRounds(patience: Int) throws {
    let model = try Model(configuration, seed: 1)
    // The second round is the best; every later one is worse.
    let script = ScriptedValidation(model: model, losses: [2, 1] + (1...20).map { 1 + Double($0) / 10 })
    let run = TrainingRun(
        settings: settings(steps: 100, earlyStopping: .init(patience: patience, restoreBest: true)),
        batch: sequences(), validation: script.score)
    let summary = try run.run(model: model)

    // Rounds come about every tenth of the budget; the run ends on the round that stops it.
    #expect(summary.stopReason == .earlyStopped)
    #expect(summary.validationCurve.count == 2 + patience)
    #expect(summary.steps == summary.validationCurve.last!.step && summary.steps < 100)
    #expect(summary.best == summary.validationCurve[1])
    #expect(weights(model) == script.weightsAtRound[1])
    #expect(weights(model) != script.weightsAtRound.last!)
}

@Test func withoutRestoreBestTheLastWeightsStay() throws {
    let model = try Model(configuration, seed: 1)
    let script = ScriptedValidation(model: model, losses: [1, 2, 3])
    let summary = try TrainingRun(
        settings: settings(steps: 100, earlyStopping: .init(patience: 2)), batch: sequences(),
        validation: script.score
    ).run(model: model)
    #expect(summary.stopReason == .earlyStopped && summary.validationCurve.count == 3)
    #expect(summary.best == summary.validationCurve[0])
    #expect(weights(model) == script.weightsAtRound.last!)
}

@Test func anImprovingValidationLossNeverStopsEarly() throws {
    let model = try Model(configuration, seed: 1)
    let script = ScriptedValidation(model: model, losses: (0..<20).map { 1 - Double($0) / 40 })
    let summary = try TrainingRun(
        settings: settings(steps: 100, earlyStopping: .init(patience: 1, restoreBest: true)),
        batch: sequences(), validation: script.score
    ).run(model: model)
    #expect(summary.stopReason == .budgetSpent && summary.steps == 100)
    #expect(summary.validationCurve.count >= 10)
    #expect(summary.best?.step == 100)
    #expect(weights(model) == script.weightsAtRound.last!)
}

@Test func anImprovementBelowTheRelativeThresholdDoesNotCount() throws {
    #expect(TrainingRun.EarlyStopping.improves(0.9998, on: 1))
    #expect(!TrainingRun.EarlyStopping.improves(0.99995, on: 1))
    #expect(!TrainingRun.EarlyStopping.improves(.nan, on: 1))
    #expect(TrainingRun.EarlyStopping.improves(5, on: nil))
    let model = try Model(configuration, seed: 1)
    let script = ScriptedValidation(model: model, losses: [1, 0.99995, 0.99992, 0.99991])
    let summary = try TrainingRun(
        settings: settings(steps: 100, earlyStopping: .init(patience: 3)), batch: sequences(),
        validation: script.score
    ).run(model: model)
    #expect(summary.stopReason == .earlyStopped && summary.validationCurve.count == 4)
}

@Test func earlyStoppingSurvivesAResume() throws {
    let data = sequences()
    let losses: [Double] = [3, 2, 2.5, 1, 1.5, 1.6, 1.7, 1.8, 1.9, 2]
    let straight = try Model(configuration, seed: 1)
    let straightScript = ScriptedValidation(model: straight, losses: losses)
    let straightSummary = try TrainingRun(
        settings: settings(steps: 100, earlyStopping: .init(patience: 3, restoreBest: true)),
        batch: data, validation: straightScript.score
    ).run(model: straight)
    #expect(straightSummary.stopReason == .earlyStopped && straightSummary.validationCurve.count == 7)
    #expect(straightSummary.best == straightSummary.validationCurve[3])
    #expect(straightSummary.validationCurve[4].step < 55 && straightSummary.validationCurve[5].step > 55)

    // Cancelled at step 55, after the best round (the fourth) and one worse one.
    let url = temporaryCheckpoint()
    defer { try? FileManager.default.removeItem(at: url) }
    let first = try Model(configuration, seed: 1)
    let cancellation = TrainingCancellation()
    let firstScript = ScriptedValidation(model: first, losses: losses)
    let interrupted = TrainingRun(
        settings: settings(
            steps: 100, checkpointing: .init(url: url),
            earlyStopping: .init(patience: 3, restoreBest: true)),
        batch: data, validation: firstScript.score,
        progress: { if $0.step == 55 { cancellation.cancel() } }, cancellation: cancellation)
    #expect(throws: TrainingCancelled.self) { try interrupted.run(model: first) }
    let checkpoint = try Checkpoint(contentsOf: url)
    let resumed = try checkpoint.model()
    let resumedScript = ScriptedValidation(model: resumed, losses: Array(losses.dropFirst(5)))
    let summary = try TrainingRun(
        settings: settings(
            steps: 100, checkpointing: .init(url: url, resume: checkpoint),
            earlyStopping: .init(patience: 3, restoreBest: true)),
        batch: data, validation: resumedScript.score
    ).run(model: resumed)
    #expect(summary.stopReason == .earlyStopped && summary.steps == straightSummary.steps)
    #expect(summary.best == straightSummary.best)
    #expect(weights(resumed) == weights(straight))
}

@Test func settingsARunCannotUseAreRefused() throws {
    let model = try Model(configuration, seed: 1)
    var noLimit = settings(steps: 1)
    noLimit.steps = nil
    #expect(throws: TrainingRunError.invalidSetting("a run needs a step limit, a time limit or both")) {
        try TrainingRun(settings: noLimit, batch: sequences()).run(model: model)
    }
    #expect(throws: TrainingRunError.invalidSetting("early stopping needs a validation scorer")) {
        try TrainingRun(settings: settings(steps: 5, earlyStopping: .init(patience: 2)), batch: sequences()).run(
            model: model)
    }
}

@Test func trainingDivergedKeepsItsMessage() {
    let error = TrainingDiverged(steps: 3, checkpoint: URL(fileURLWithPath: "/tmp/c.safetensors"))
    #expect(
        error.description
            == "training diverged: 3 consecutive steps had a non-finite loss or gradient and were skipped "
            + "(try a lower --lr or --clip); the last good checkpoint /tmp/c.safetensors is intact")
}
