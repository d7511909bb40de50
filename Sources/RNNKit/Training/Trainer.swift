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
/// The weights after any number of steps are bit-identical whatever the
/// thread count. A trainer is not thread-safe: drive each from one thread at a
/// time (separate trainers on separate models may run concurrently).
public final class Trainer {
    public let model: Model
    public let optimizer: Optimizer
    public var clipping: GradientClipping
    private let engine: Engine
    private let state: OptimizerState

    /// The most worker threads a trainer or predictor starts; a larger
    /// `threads:` is clamped to it.
    public static var maximumThreads: Int { ShardScheduler.maximumThreads }

    /// - Parameters:
    ///   - threads: worker threads, at most `maximumThreads`; all cores when nil.
    public init(model: Model, optimizer: Optimizer, clipping: GradientClipping = .none, threads: Int? = nil) {
        self.model = model
        self.optimizer = optimizer
        self.clipping = clipping
        engine = Engine(model: model, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, withGradients: true)
        state = OptimizerState(optimizer: optimizer, parameters: model.parameters, kernels: engine.kernels)
    }

    /// The number of updates applied so far.
    public var stepCount: Int { state.step }

    /// The optimiser's state buffers by PyTorch's state names.
    var optimizerBuffers: [(String, AlignedBuffer)] {
        switch optimizer {
        case .sgd: state.firstMoment.map { [("momentum_buffer", $0)] } ?? []
        case .adam: [("exp_avg", state.firstMoment!), ("exp_avg_sq", state.secondMoment!)]
        }
    }

    func restoreStepCount(_ step: Int) { state.restore(step: step) }

    /// One optimiser step on `rows` of `batch` (all rows when nil).
    ///
    /// Passing the whole data set with the rows of each mini-batch avoids
    /// copying: the engine reads the selected rows in place.
    /// - Parameter initialState: the state to start from (`[units, rows, hidden]`,
    ///   rows in the order of `rows`); the report then carries the final state.
    ///   Gradients do not flow into it.
    /// - Throws: ``ModelError/invalidSetting(_:)`` when the optimiser or the
    ///   clipping cannot be used, ``ModelError/inputMismatch(_:)`` when the
    ///   batch, rows or state do not fit the model.
    @discardableResult
    public func step(_ batch: SequenceBatch, rows: [Int]? = nil, initialState: RecurrentState? = nil) throws(ModelError) -> StepReport {
        try optimizer.validate()
        try clipping.validate()
        try batch.validate(for: model.configuration, needsTargets: true)
        try initialState?.validate(for: model.configuration, count: rows?.count ?? batch.count)
        let loss = try engine.forwardBackward(batch, rows: rows, initialState: initialState)
        let finalState = initialState.map { _ in engine.finalState(count: rows?.count ?? batch.count) }
        let gradients = engine.shards[0].gradients.baseAddress
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
        engine.scheduler.forEachChunk(of: count, state)
        state.gradients = nil
        state.finishStep()
        return StepReport(loss: loss, gradientNorm: norm, skipped: false, finalState: finalState)
    }

    /// The mean loss on `rows` of `batch` (forward only, nothing updated),
    /// starting from `initialState` (rows in the order of `rows`) or zeros.
    public func loss(_ batch: SequenceBatch, rows: [Int]? = nil, initialState: RecurrentState? = nil) throws(ModelError) -> Double {
        try batch.validate(for: model.configuration, needsTargets: true)
        try initialState?.validate(for: model.configuration, count: rows?.count ?? batch.count)
        return try engine.forwardLoss(batch, rows: rows, initialState: initialState)
    }

    /// The loss and the gradient of every parameter tensor by name (for
    /// inspection and tests; a training loop uses `step`), starting from
    /// `initialState` or zeros. Gradients do not flow into the state.
    public func gradients(_ batch: SequenceBatch, initialState: RecurrentState? = nil) throws(ModelError)
        -> (loss: Double, gradients: [String: [Float]]) {
        try batch.validate(for: model.configuration, needsTargets: true)
        try initialState?.validate(for: model.configuration, count: batch.count)
        let loss = try engine.forwardBackward(batch, rows: nil, initialState: initialState)
        let buffer = engine.shards[0].gradients.baseAddress
        var result: [String: [Float]] = [:]
        for entry in model.layout.entries {
            result[entry.name] = Array(UnsafeBufferPointer(start: buffer + entry.offset, count: entry.count))
        }
        return (loss, result)
    }
}
