import Foundation
import RNNKernels

/// What one training step did.
public struct StepReport: Sendable, Equatable {
    /// Mean loss over the mini-batch before the update.
    public var loss: Double
    /// Global L2 norm of the gradient before clipping.
    public var gradientNorm: Double
    /// True when the loss or gradient was not finite and the update was skipped.
    public var skipped: Bool
    /// The final recurrent state, when the step was given an initial state
    /// (truncated backpropagation through time carries it to the next chunk).
    public var finalState: RecurrentState?
}

/// Trains a model with backpropagation through time, one mini-batch per
/// `step`, on all cores.
///
/// ```swift
/// let trainer = Trainer(model: model, optimizer: .adam(learningRate: 2e-3), clipping: .norm(5))
/// let report = try trainer.step(batch)
/// print(report.loss, report.gradientNorm)
/// ```
///
/// A ``LearningRateSchedule`` moves the optimiser's rate step by step; the
/// rate of the next step is `learningRate`.
///
/// The weights after any number of steps are bit-identical whatever the
/// thread count. With a ``Communicator`` of several processes, each process
/// runs its share of every mini-batch's shards and the processes finish one
/// reduction tree together (see ``Communicator``): the weights are then also
/// the same for any process count. A trainer is not thread-safe: drive each from one thread at a
/// time (separate trainers on separate models may run concurrently).
public final class Trainer {
    public let model: Model
    public let optimizer: Optimizer
    public let schedule: LearningRateSchedule
    public var clipping: GradientClipping
    /// The processes that share each mini-batch.
    public let communicator: any Communicator
    /// Keys the model's dropout masks, with the step count: see
    /// ``ModelConfiguration/dropout``.
    public let seed: UInt64
    private let engine: Engine
    /// Sums gradients over micro-batches and processes.
    private let gradientSum: GradientSum
    private let state: OptimizerState
    private(set) var rateScheduler: LearningRateScheduler

    /// The most worker threads a trainer or predictor starts; a larger
    /// `threads:` is clamped to it.
    public static var maximumThreads: Int { ShardScheduler.maximumThreads }

    /// - Parameters:
    ///   - schedule: how the learning rate moves from the optimiser's.
    ///   - threads: worker threads, at most `maximumThreads`; all cores when nil.
    ///   - communicator: the processes that share each mini-batch; every
    ///     one of them builds a trainer and calls `step` with the same
    ///     mini-batches.
    ///   - seed: keys the dropout masks, with the step count.
    public init(
        model: Model, optimizer: Optimizer, schedule: LearningRateSchedule = .constant,
        clipping: GradientClipping = .none, threads: Int? = nil, communicator: any Communicator = SingleProcess(),
        seed: UInt64 = 0
    ) {
        self.model = model
        self.seed = seed
        self.optimizer = optimizer
        self.schedule = schedule
        self.clipping = clipping
        self.communicator = communicator
        engine = Engine(
            model: model, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, withGradients: true)
        gradientSum = GradientSum(engine: engine, communicator: communicator)
        state = OptimizerState(rule: optimizer.rule, parameters: model.parameters, kernels: engine.kernels)
        rateScheduler = LearningRateScheduler(schedule: schedule, baseRate: Double(optimizer.learningRate))
    }

    /// Bytes this process receives from the others in a step over `rows`
    /// sequences: 0 for one process, about the gradient's size for two, and
    /// toward twice that for many.
    public func bytesReceivedPerStep(rows: Int) -> Int {
        gradientSum.bytesReceived(shardCount: ShardScheduler.shardCount(rows: rows))
    }

    /// The shard workspaces the trainer holds: their buffers are most of its memory.
    var shardWorkspaceCount: Int { engine.shards.count }

    /// The number of updates applied so far.
    public var stepCount: Int { state.step }

    /// The learning rate of the next step: the optimiser's, as the schedule
    /// has moved it (PyTorch's `scheduler.get_last_lr()[0]`). The update uses
    /// it rounded to `Float`.
    public var learningRate: Double { rateScheduler.rate }

    /// Steps a metric-driven schedule, as `ReduceLROnPlateau.step(metric)`:
    /// after `patience` calls without a metric below the best by more than a
    /// relative 1e-4, the rate is multiplied by the factor. A NaN metric
    /// counts as no improvement.
    /// - Throws: ``ModelError/invalidSetting(_:)`` when the schedule is not
    ///   metric-driven (the others move with `step`) or cannot be used.
    public func stepSchedule(metric: Double) throws(ModelError) {
        try schedule.validate()
        guard schedule.isMetricDriven else {
            throw .invalidSetting("the \(schedule) schedule moves with each optimiser step, not with metrics")
        }
        rateScheduler.observe(metric: metric)
    }

    /// The optimiser's state buffers by PyTorch's state names.
    var optimizerBuffers: [(String, AlignedBuffer)] { Array(zip(optimizer.rule.stateNames, state.buffers)) }

    func restoreStepCount(_ step: Int) { state.restore(step: step) }

    func restoreScheduler(_ restored: LearningRateScheduler) { rateScheduler = restored }

    /// One optimiser step on `rows` of `batch` (all rows when nil).
    ///
    /// Passing the whole data set with the rows of each mini-batch avoids
    /// copying: the engine reads the selected rows in place.
    ///
    /// With `microBatch`, the rows run that many at a time, rounded down to
    /// whole shards of 32 (at least one), and the trainer holds the buffers
    /// of one micro-batch only (gradient accumulation): the step has the bits
    /// of the whole mini-batch at once, because every micro-batch's shard
    /// sums meet in the same reduction tree.
    /// - Parameter initialState: the state to start from (`[units, rows, hidden]`,
    ///   rows in the order of `rows`); the report then carries the final state.
    ///   Gradients do not flow into it. A state is not yet carried across
    ///   micro-batches or processes: with either, `initialState` must be nil.
    /// - Throws: ``ModelError/invalidSetting(_:)`` when the optimiser, the
    ///   schedule or the clipping cannot be used, or a state is given with
    ///   micro-batches or several processes; ``ModelError/inputMismatch(_:)``
    ///   when the batch, rows or state do not fit the model.
    @discardableResult
    public func step(
        _ batch: SequenceBatch, rows: [Int]? = nil, initialState: RecurrentState? = nil, microBatch: Int? = nil
    ) throws(ModelError) -> StepReport {
        try optimizer.validate()
        try schedule.validate()
        try clipping.validate()
        try batch.validate(for: model.configuration, needsTargets: true)
        try initialState?.validate(for: model.configuration, count: rows?.count ?? batch.count)
        if let microBatch, microBatch < 1 { throw .invalidSetting("microBatch is \(microBatch), expected at least 1") }
        let shardCount = ShardScheduler.shardCount(rows: rows?.count ?? batch.count)
        let microShards = min(shardCount, max(1, (microBatch ?? Int.max) / ShardScheduler.shardRows))
        let loss: Double, gradients: UnsafeMutablePointer<Float>
        if communicator.size > 1 || microShards < shardCount {
            guard initialState == nil else {
                throw .invalidSetting(
                    "a recurrent state is not carried across micro-batches or processes; train without one")
            }
            (loss, gradients) = try gradientSum.forwardBackward(
                batch, rows: rows, microShards: microShards, dropout: dropout)
        } else {
            loss = try engine.forwardBackward(batch, rows: rows, initialState: initialState, dropout: dropout)
            gradients = engine.shards[0].gradients.baseAddress
        }
        let finalState = initialState.map { _ in engine.finalState(count: rows?.count ?? batch.count) }
        let count = model.layout.totalCount
        let norm = engine.kernels.sumOfSquares(gradients, count: count).squareRoot()
        guard loss.isFinite, norm.isFinite else {
            return StepReport(loss: loss, gradientNorm: norm, skipped: true, finalState: finalState)
        }
        switch clipping {
        case .none: break
        case .norm(let maximum):
            let factor = Double(maximum) / (norm + 1e-6)
            if factor < 1 { engine.kernels.scale(gradients, count: count, by: Float(factor)) }
        case .value(let limit):
            engine.kernels.clamp(gradients, count: count, limit: limit)
        }
        state.gradients = UnsafePointer(gradients)
        state.learningRate = Float(rateScheduler.rate)
        engine.scheduler.forEachChunk(of: count, state)
        state.gradients = nil
        state.finishStep()
        model.parametersChanged()
        rateScheduler.advance()
        return StepReport(loss: loss, gradientNorm: norm, skipped: false, finalState: finalState)
    }

    /// The masks between layers of the next step: drawn from the seed and
    /// the step count, so a resumed run draws the same; nil without dropout.
    private var dropout: Dropout? {
        let probability = model.configuration.dropout
        return probability > 0 ? Dropout(probability: probability, seed: seed, step: stepCount) : nil
    }

    /// The mean loss on `rows` of `batch` (forward only, nothing updated, no
    /// dropout: the model as it predicts),
    /// starting from `initialState` (rows in the order of `rows`) or zeros.
    public func loss(_ batch: SequenceBatch, rows: [Int]? = nil, initialState: RecurrentState? = nil) throws(ModelError)
        -> Double
    {
        try batch.validate(for: model.configuration, needsTargets: true)
        try initialState?.validate(for: model.configuration, count: rows?.count ?? batch.count)
        return try engine.forwardLoss(batch, rows: rows, initialState: initialState)
    }

    /// The loss and the gradient of every parameter tensor by name (for
    /// inspection and tests; a training loop uses `step`), starting from
    /// `initialState` or zeros. Gradients do not flow into the state. With
    /// dropout, the pass runs through the masks of the next step.
    public func gradients(_ batch: SequenceBatch, initialState: RecurrentState? = nil) throws(ModelError)
        -> (loss: Double, gradients: [String: [Float]])
    {
        try batch.validate(for: model.configuration, needsTargets: true)
        try initialState?.validate(for: model.configuration, count: batch.count)
        let loss = try engine.forwardBackward(batch, rows: nil, initialState: initialState, dropout: dropout)
        let buffer = engine.shards[0].gradients.baseAddress
        var result: [String: [Float]] = [:]
        for entry in model.layout.entries {
            result[entry.name] = Array(UnsafeBufferPointer(start: buffer + entry.offset, count: entry.count))
        }
        return (loss, result)
    }
}
