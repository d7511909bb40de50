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
