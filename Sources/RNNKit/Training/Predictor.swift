import Foundation

/// Runs a model forward over batches, on all cores, reusing its buffers from
/// one call to the next: keep one for repeated inference.
///
/// ```swift
/// let predictor = Predictor(model: model)
/// let outputs = try predictor.outputs(for: batch)
/// ```
///
/// A predictor reads the model's current weights at every call. Like a
/// `Trainer`, it is driven from one thread at a time.
public final class Predictor {
    public let model: Model
    private let engine: Engine

    /// - Parameter threads: worker threads; all cores when nil.
    public init(model: Model, threads: Int? = nil) {
        self.model = model
        engine = Engine(
            model: model, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, withGradients: false)
    }

    /// The outputs for every sequence of `batch`: `[N, T', O]` for per-step
    /// topologies, `[N, O]` otherwise. One-to-many models given targets feed
    /// them back (teacher forcing); `Model.generate` feeds back their own outputs.
    public func outputs(for batch: SequenceBatch) throws(ModelError) -> [Float] {
        try batch.validate(for: model.configuration, needsTargets: false)
        return try engine.outputs(batch, initialState: nil)
    }

    /// The outputs and the final recurrent state (of the decoder, for
    /// encoder-decoder models), starting from `initialState` or zeros.
    public func run(_ batch: SequenceBatch, initialState: RecurrentState? = nil) throws(ModelError)
        -> (outputs: [Float], finalState: RecurrentState)
    {
        try batch.validate(for: model.configuration, needsTargets: false)
        try initialState?.validate(for: model.configuration, count: batch.count)
        let outputs = try engine.outputs(batch, initialState: initialState)
        return (outputs, engine.finalState(count: batch.count))
    }
}

extension Model {
    /// The model's outputs for every sequence of `batch` (see `Predictor`,
    /// which keeps its buffers across calls).
    public func outputs(for batch: SequenceBatch, threads: Int? = nil) throws(ModelError) -> [Float] {
        try Predictor(model: self, threads: threads).outputs(for: batch)
    }

    /// The outputs and the final recurrent state, starting from `initialState` or zeros.
    public func run(
        _ batch: SequenceBatch, initialState: RecurrentState? = nil,
        threads: Int? = nil
    ) throws(ModelError) -> (outputs: [Float], finalState: RecurrentState) {
        try Predictor(model: self, threads: threads).run(batch, initialState: initialState)
    }
}
