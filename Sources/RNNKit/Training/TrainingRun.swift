import Foundation

/// A whole training run: epochs of shuffled mini-batches under a step or time
/// limit, validation along the way, early stopping, weight averaging,
/// checkpoints and resume, and a stop when training diverges.
///
/// Mini-batches come from `data(epoch)`, in order or in a shuffle seeded by
/// the run's seed and the epoch, so a resumed run draws the same batches. A
/// mini-batch never spans two epochs: `data` may cut each epoch's sequences
/// differently, so the last mini-batch of an epoch takes the rows left over,
/// fewer than `batchSize` unless they divide evenly. A `.plateau` schedule
/// steps at the end of each epoch with the epoch's mean training loss.
///
/// The `validation` scorer runs about ten times along the way (each time
/// another tenth of the budget is spent) and after the last step. Its loss
/// steers nothing unless early stopping is on, so without early stopping a
/// test set can be scored without leaking into training.
///
/// The weights after a run are bit-identical whatever the thread count and
/// the process count (``Settings/communicator``), and a run resumed from any
/// of its checkpoints, with any process count, ends with the same bits as one
/// that was never interrupted.
///
/// ```swift
/// let settings = TrainingRun.Settings(optimizer: .adam(learningRate: 1e-2), batchSize: 16, steps: 200)
/// let run = TrainingRun(settings: settings, batch: training, validation: { try scorer.loss(validation) })
/// let summary = try run.run(model: model)
/// print(summary.finalLoss, summary.validationCurve.last?.loss ?? .nan)
/// ```
public struct TrainingRun {
    /// How a run trains: optimiser, mini-batches, limits, and what it does along the way.
    public struct Settings: Sendable {
        public var optimizer: Optimizer
        public var schedule: LearningRateSchedule
        public var clipping: GradientClipping
        /// Sequences per mini-batch (the last of an epoch takes the rows left).
        public var batchSize: Int
        /// Mini-batches per optimiser step (gradient accumulation): each step
        /// draws `accumulation × batchSize` rows and runs them `batchSize` at
        /// a time, rounded down to whole shards of 32 (at least one), with the
        /// bits of one mini-batch of all of them and the memory of one of
        /// `batchSize`.
        public var accumulation: Int
        /// Draw each epoch's rows in a shuffle seeded by `seed` and the epoch; false keeps data set order.
        public var shuffle: Bool
        /// Seeds the shuffle and the dropout masks.
        public var seed: UInt64
        /// Stop after this many optimiser steps, or when `seconds` of training
        /// time run out, whichever comes first; at least one must be set.
        public var steps: Int?
        public var seconds: Double?
        /// Worker threads; all cores when nil.
        public var threads: Int?
        /// Above 0, the model ends with the mean of its weights after each step
        /// of that last share of the budget (stochastic weight averaging): on
        /// small data sets it varies far less from seed to seed than the last
        /// step's weights.
        public var averagingShare: Double
        /// Stop with ``TrainingDiverged`` after this many consecutive steps with
        /// a non-finite loss or gradient.
        public var maximumBadSteps: Int
        /// Where and how often to save the whole training state, and what to
        /// resume from; nil saves nothing.
        public var checkpointing: Checkpointing?
        /// Stop when the validation loss stops improving; needs a `validation` scorer.
        public var earlyStopping: EarlyStopping?
        /// The processes that share each mini-batch (MPI's ranks): one by
        /// default. Every process runs the same `TrainingRun` on the same
        /// data; each step they agree on the training time and on
        /// cancellation as process 0 sees them, so all stop, validate and
        /// average at the same step, and process 0 alone saves checkpoints.
        /// Nothing else depends on the process count: the weights are the
        /// same for any.
        public var communicator: any Communicator

        public init(
            optimizer: Optimizer, schedule: LearningRateSchedule = .constant,
            clipping: GradientClipping = .none, batchSize: Int = 32, accumulation: Int = 1, shuffle: Bool = true,
            seed: UInt64 = 0,
            steps: Int? = nil, seconds: Double? = nil,
            threads: Int? = nil, averagingShare: Double = 0, maximumBadSteps: Int = 10,
            checkpointing: Checkpointing? = nil, earlyStopping: EarlyStopping? = nil,
            communicator: any Communicator = SingleProcess()
        ) {
            self.optimizer = optimizer
            self.schedule = schedule
            self.clipping = clipping
            self.batchSize = batchSize
            self.accumulation = accumulation
            self.shuffle = shuffle
            self.seed = seed
            self.steps = steps
            self.seconds = seconds
            self.threads = threads
            self.averagingShare = averagingShare
            self.maximumBadSteps = maximumBadSteps
            self.checkpointing = checkpointing
            self.earlyStopping = earlyStopping
            self.communicator = communicator
        }

        /// The settings a resumed run must share with the run that saved the
        /// checkpoint (the schedule and early stopping only when there are
        /// any, so that older checkpoints still resume).
        public var signature: String {
            "batch=\(batchSize) shuffle=\(shuffle) seed=\(seed) optimizer=\(optimizer) clipping=\(clipping)"
                + (accumulation == 1 ? "" : " accumulation=\(accumulation)")
                + (schedule == .constant ? "" : " schedule=\(schedule)")
                + (earlyStopping.map { " early_stopping=patience:\($0.patience),restore_best:\($0.restoreBest)" } ?? "")
        }
    }

    /// Where and how often to save the whole training state (a ``Checkpoint``).
    public struct Checkpointing: Sendable {
        public var url: URL
        /// Save after every `everySteps`-th step (counting from the first run's start).
        public var everySteps: Int?
        /// Save when this many seconds have passed since the last save.
        public var everySeconds: Double?
        /// Continue from this checkpoint: its weights must already be in the
        /// model (``Checkpoint/model()``), and its run must have had the same
        /// ``Settings/signature``; the step and time limits may differ.
        public var resume: Checkpoint?

        public init(url: URL, everySteps: Int? = nil, everySeconds: Double? = nil, resume: Checkpoint? = nil) {
            self.url = url
            self.everySteps = everySteps
            self.everySeconds = everySeconds
            self.resume = resume
        }
    }

    /// Stopping when the validation loss stops improving.
    ///
    /// After each validation round, a loss below the best so far by more than
    /// a relative 1e-4 (`loss < best - 1e-4 * |best|`, the threshold of
    /// ``LearningRateSchedule/plateau(factor:patience:)``) becomes the best; a
    /// NaN loss never does. After `patience` rounds in a row without a new
    /// best, the run stops (``TrainingSummary/StopReason/earlyStopped``).
    /// With `restoreBest` the run ends with the weights of the best round,
    /// whether it stopped early or spent its budget.
    ///
    /// With weight averaging, the mean weights replace the last step's only
    /// when the run spends its budget: its last round scores them, and with
    /// `restoreBest` an earlier round's (unaveraged) weights win if they
    /// scored better. The state travels in checkpoints, the best weights
    /// included, so a resumed run stops where an uninterrupted one would.
    public struct EarlyStopping: Sendable, Equatable {
        /// The relative improvement a validation loss needs to become the best.
        public static let relativeThreshold = 1e-4

        /// Validation rounds without a new best before the run stops (at least 1).
        public var patience: Int
        public var restoreBest: Bool

        public init(patience: Int, restoreBest: Bool = false) {
            self.patience = patience
            self.restoreBest = restoreBest
        }

        /// Whether `loss` is a new best over `best` (nil before any finite loss).
        public static func improves(_ loss: Double, on best: Double?) -> Bool {
            guard loss.isFinite else { return false }
            guard let best else { return true }
            return loss < best - relativeThreshold * abs(best)
        }
    }

    public var settings: Settings
    /// The training sequences of an epoch (counted from 0); called once per epoch.
    public var data: (_ epoch: Int) throws -> SequenceBatch
    /// Scores the model on held-out data, returning a loss.
    public var validation: (() throws -> Double)?
    /// Called after every step.
    public var progress: ((TrainingProgress) -> Void)?
    /// Checked once per step; see ``TrainingCancellation``.
    public var cancellation: TrainingCancellation?

    /// - Parameters:
    ///   - data: the training sequences of each epoch (counted from 0).
    ///   - validation: scores the model on held-out data, returning a loss.
    ///   - progress: called after every step.
    ///   - cancellation: checked once per step.
    public init(
        settings: Settings, data: @escaping (_ epoch: Int) throws -> SequenceBatch,
        validation: (() throws -> Double)? = nil, progress: ((TrainingProgress) -> Void)? = nil,
        cancellation: TrainingCancellation? = nil
    ) {
        self.settings = settings
        self.data = data
        self.validation = validation
        self.progress = progress
        self.cancellation = cancellation
    }

    /// A run over the same in-memory sequences every epoch.
    public init(
        settings: Settings, batch: SequenceBatch, validation: (() throws -> Double)? = nil,
        progress: ((TrainingProgress) -> Void)? = nil, cancellation: TrainingCancellation? = nil
    ) {
        self.init(
            settings: settings, data: { _ in batch }, validation: validation, progress: progress,
            cancellation: cancellation)
    }

    /// Trains `model` in place until the step or time limit is spent or
    /// early stopping ends the run.
    ///
    /// - Returns: what the run did.
    /// - Throws: ``TrainingRunError`` for settings it cannot use or a
    ///   checkpoint it cannot resume from; ``TrainingDiverged`` after
    ///   `maximumBadSteps` non-finite steps in a row; ``TrainingCancelled``
    ///   when cancelled (after saving a checkpoint with checkpointing on);
    ///   whatever `data`, `validation` or the trainer throw.
    /// - Complexity: `steps` optimiser steps, about 11 validation rounds.
    public func run(model: Model) throws -> TrainingSummary {
        try validateSettings()
        var loop = _TrainingLoop(run: self, model: model)
        return try loop.train()
    }

    private func validateSettings() throws(TrainingRunError) {
        let s = settings
        guard s.batchSize >= 1 else { throw .invalidSetting("batchSize is \(s.batchSize), expected at least 1") }
        guard s.accumulation >= 1 else {
            throw .invalidSetting("accumulation is \(s.accumulation), expected at least 1")
        }
        guard s.steps != nil || s.seconds != nil else {
            throw .invalidSetting("a run needs a step limit, a time limit or both")
        }
        if let steps = s.steps, steps < 0 { throw .invalidSetting("steps is \(steps), expected at least 0") }
        if let seconds = s.seconds, !(seconds > 0) {
            throw .invalidSetting("seconds is \(seconds), expected a number > 0")
        }
        guard (0...1).contains(s.averagingShare) else {
            throw .invalidSetting("averagingShare is \(s.averagingShare), expected 0...1")
        }
        guard s.maximumBadSteps >= 1 else {
            throw .invalidSetting("maximumBadSteps is \(s.maximumBadSteps), expected at least 1")
        }
        if let every = s.checkpointing?.everySteps, every < 1 {
            throw .invalidSetting("checkpointing every \(every) steps, expected at least 1")
        }
        if let earlyStopping = s.earlyStopping {
            guard earlyStopping.patience >= 1 else {
                throw .invalidSetting("early stopping's patience is \(earlyStopping.patience), expected at least 1")
            }
            guard validation != nil else { throw .invalidSetting("early stopping needs a validation scorer") }
        }
    }
}
