import Foundation

/// Runs a model one step at a time, carrying its recurrent state between
/// calls: for sampling text from a language model and for one-to-many
/// generation, where each step's input depends on the previous output.
public final class StepRunner {
    public let model: Model
    /// Sequences advanced together.
    public let count: Int
    /// The state after the last step (zeros before the first).
    public private(set) var state: RecurrentState
    private let engine: Engine

    /// - Throws: ``ModelError`` for a `count` below 1 or too large to hold.
    public init(model: Model, count: Int = 1, threads: Int? = nil) throws(ModelError) {
        self.model = model
        self.count = count
        state = try .zeros(for: model.configuration, count: count)
        engine = Engine(model: model, threads: threads ?? 1, withGradients: false)
    }

    /// Feeds one step (`[count, I]` features or `[count]` tokens) and returns the
    /// outputs `[count, O]`.
    public func step(_ inputs: SequenceBatch.Inputs) throws(ModelError) -> [Float] {
        let batch = SequenceBatch(count: count, timeSteps: 1, inputs: inputs)
        try batch.validate(for: model.configuration, needsTargets: false)
        let outputs = try engine.outputs(batch, initialState: state)
        state = engine.finalState(count: count)
        return outputs
    }
}
