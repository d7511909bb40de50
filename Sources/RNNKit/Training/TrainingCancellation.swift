import Foundation

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
