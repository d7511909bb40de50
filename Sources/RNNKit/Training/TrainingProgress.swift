import Foundation

/// Where a training run stands, reported after every step.
public struct TrainingProgress: Sendable {
    /// Optimiser steps taken, counting those before a resume.
    public var step: Int
    /// The step limit, when the run has one.
    public var totalSteps: Int?
    /// The training loss smoothed over recent steps (an exponential moving
    /// average with weight 0.1 on the latest); NaN before the first finite step.
    public var smoothedLoss: Double
    /// The latest validation loss, if the run has a validation scorer and has scored.
    public var validationLoss: Double?
    /// Steps skipped so far for a non-finite loss or gradient (this run only).
    public var skippedSteps: Int
    /// Sequences trained per second in this process.
    public var sequencesPerSecond: Double
    /// Training time in seconds, counting the time before a resume.
    public var elapsed: Double
    /// Seconds left by the step and time limits at the current pace; nil before the pace is known.
    public var estimatedRemaining: Double?
    /// True on the run's last report (its budget is spent or it stopped early).
    public var isFinal: Bool
}

/// A point of a loss curve.
public struct LossPoint: Sendable, Equatable {
    /// The optimiser steps taken when the loss was measured.
    public var step: Int
    public var loss: Double

    public init(step: Int, loss: Double) {
        self.step = step
        self.loss = loss
    }
}

/// What a finished training run did.
public struct TrainingSummary: Sendable {
    /// Why a run ended.
    public enum StopReason: Sendable, Equatable {
        /// The step or time limit was spent.
        case budgetSpent
        /// The validation loss stopped improving (``TrainingRun/EarlyStopping``).
        case earlyStopped
    }

    /// Optimiser steps taken, counting those before a resume.
    public var steps = 0
    /// The loss of the last step that was not skipped (NaN when none was).
    public var finalLoss = Double.nan
    /// The gradient norm of that step, before clipping.
    public var finalGradientNorm = Double.nan
    /// Steps skipped in this process for a non-finite loss or gradient.
    public var skippedSteps = 0
    /// Training time in this process, in seconds.
    public var seconds = 0.0
    /// The loss of every step that was not skipped, including those before a resume.
    public var trainingCurve: [LossPoint] = []
    /// Every validation loss, including those before a resume.
    public var validationCurve: [LossPoint] = []
    /// Steps run in this process (a resumed run counts only its own).
    public var stepsThisRun = 0
    /// Sequences trained in this process.
    public var sequencesThisRun = 0
    public var stopReason = StopReason.budgetSpent
    /// With early stopping, the best validation round: its step and loss.
    public var best: LossPoint?

    /// Sequences trained per second in this process.
    public var sequencesPerSecond: Double { seconds > 0 ? Double(sequencesThisRun) / seconds : 0 }
}

/// A request to stop a training run, which the run checks once per step.
///
/// Cancel from any thread (or a signal handler's flag, through `polling`);
/// the run finishes its current step, saves a checkpoint when it has
/// checkpointing settings, and throws ``TrainingCancelled``.
///
/// ```swift
/// let cancellation = TrainingCancellation()
/// stopButton.onPress = { cancellation.cancel() }
/// ```
public final class TrainingCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private let condition: (@Sendable () -> Bool)?

    public init() { condition = nil }

    /// A cancellation that also holds once `condition` returns true: a flag
    /// that a signal handler sets, a deadline, a parent's state.
    public init(polling condition: @escaping @Sendable () -> Bool) { self.condition = condition }

    public func cancel() { lock.withLock { cancelled = true } }

    public var isCancelled: Bool { lock.withLock { cancelled } || condition?() == true }
}
