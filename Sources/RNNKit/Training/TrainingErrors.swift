import Foundation

/// Training that left the finite numbers: too many consecutive steps with a
/// non-finite loss or gradient, or weights that overflowed.
public struct TrainingDiverged: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as a clause (`3 consecutive steps had a non-finite loss ...`).
    public let reason: String
    /// The last checkpoint written before training diverged, if any: it is intact.
    public let checkpoint: URL?

    public init(reason: String, checkpoint: URL?) {
        self.reason = reason
        self.checkpoint = checkpoint
    }

    /// `steps` consecutive steps were skipped for a non-finite loss or gradient.
    public init(steps: Int, checkpoint: URL?) {
        self.init(
            reason: "\(steps) consecutive steps had a non-finite loss or gradient and were skipped",
            checkpoint: checkpoint)
    }

    public var description: String {
        "training diverged: \(reason) (try a lower --lr or --clip)"
            + (checkpoint.map { "; the last good checkpoint \($0.path) is intact" } ?? "")
    }
}

/// A training run stopped by its ``TrainingCancellation``, after saving a
/// checkpoint when it had checkpointing settings.
public struct TrainingCancelled: Error, CustomStringConvertible, Sendable {
    /// Where the run saved its state: resume from it to continue exactly; nil without checkpointing.
    public let checkpoint: URL?
    /// The steps trained, counting those before a resume.
    public let steps: Int

    public init(checkpoint: URL?, steps: Int) {
        self.checkpoint = checkpoint
        self.steps = steps
    }

    public var description: String {
        "training cancelled after \(steps) steps"
            + (checkpoint.map { "; saved a checkpoint to \($0.path)" } ?? " without a checkpoint")
    }
}

/// Settings a training run cannot use, or a checkpoint it cannot resume from.
public enum TrainingRunError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A setting outside what a run can use (`batchSize` below 1, no step or time limit).
    case invalidSetting(String)
    /// The checkpoint was saved by a run with other settings: `saved` is its
    /// signature (nil when it has none), `current` this run's.
    case resumeSettingsMismatch(saved: String?, current: String)
    /// An entry of the checkpoint's progress that this run could not have
    /// saved: `expected` says what it must be (`a count this run could have
    /// saved`, `a finite number`).
    case invalidResumeProgress(key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .invalidSetting(let problem):
            return "invalid training setting: \(problem)"
        case .resumeSettingsMismatch(let saved, let current):
            return "resuming needs the same settings as the run that saved the checkpoint (\(saved ?? "none")), "
                + "this run has \(current)"
        case .invalidResumeProgress(let key, let value, let expected):
            return "the checkpoint's progress '\(key)' is '\(value)', not \(expected)"
        }
    }
}
