import Foundation

/// Runs a model one step at a time, carrying its recurrent state between
/// calls: for sampling text from a language model and for one-to-many
/// generation, where each step's input depends on the previous output.
public final class StepRunner {
    public let model: Model
    /// Sequences advanced together.
    public let count: Int
    /// The state after the last step (zeros after `reset`).
    public private(set) var state: RecurrentState
    private let engine: Engine

    /// - Throws: ``ModelError`` for a `count` below 1 or too large to hold.
    public init(model: Model, count: Int = 1, threads: Int? = nil) throws(ModelError) {
        self.model = model
        self.count = count
        state = try .zeros(for: model.configuration, count: count)
        engine = Engine(model: model, threads: threads ?? 1, withGradients: false)
    }

    public func reset() { state = .zeroState(for: model.configuration, count: count) }

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

extension Model {
    /// One-to-many generation: each sequence starts from its vector in
    /// `inputs` (`[count, I]`), and every later step reads the previous
    /// step's output. Returns `[count, steps, O]`.
    public func generate(from inputs: [Float], count: Int, steps: Int) throws(ModelError) -> [Float] {
        guard configuration.topology == .oneToMany else {
            throw .inputMismatch("generation feeds outputs back as inputs: it needs a one_to_many model, this one is \(configuration.topology.rawValue)")
        }
        guard steps > 0 else { throw .inputMismatch("steps must be positive, got \(steps)") }
        let runner = try StepRunner(model: self, count: count)
        let width = configuration.outputSize
        guard let total = _checkedProduct(count, steps, width), total <= 1 << 31 else {
            throw .tooLarge("\(count) sequences of \(steps) steps of \(width) outputs exceed 2^31 floats")
        }
        var result = [Float](repeating: 0, count: total)
        var next = inputs
        for step in 0..<steps {
            next = try runner.step(.features(next))
            for row in 0..<count {
                for unit in 0..<width { result[(row * steps + step) * width + unit] = next[row * width + unit] }
            }
        }
        return result
    }
}
