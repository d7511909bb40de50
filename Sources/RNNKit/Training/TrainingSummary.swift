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
