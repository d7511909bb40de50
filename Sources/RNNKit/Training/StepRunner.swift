import Foundation

/// Runs a model one step at a time, carrying its recurrent state between
/// calls: for sampling text from a language model, online prediction, and
/// one-to-many generation, where each step's input depends on the previous
/// output.
///
/// One-direction models without an encoder step on a path of their own
/// (products of the streams' vectors by the packed weights and the cells'
/// kernels, or a fused LSTM step; the packings follow every change of the
/// model's weights) that allocates nothing per step with `step(_:into:)`;
/// its outputs equal a whole-sequence pass's to float rounding. Other models
/// run each step as a sequence of length 1 through the batch engine.
///
/// ```swift
/// let runner = try StepRunner(model: model, count: 8)    // 8 independent streams
/// var outputs = [Float](repeating: 0, count: 8 * model.configuration.outputSize)
/// try runner.step(.tokens(nextTokens), into: &outputs)
/// runner.reset()                                        // every stream back to zeros
/// ```
public final class StepRunner {
    public let model: Model
    /// Sequences (streams) advanced together.
    public let count: Int
    private let stream: StreamingStack?
    private let engine: Engine?
    private var engineState: RecurrentState

    /// - Throws: ``ModelError`` for a `count` below 1 or too large to hold.
    public init(model: Model, count: Int = 1, threads: Int? = nil) throws(ModelError) {
        self.model = model
        self.count = count
        engineState = try .zeros(for: model.configuration, count: count)
        if StreamingStack.supports(model.configuration) {
            stream = StreamingStack(model: model, rows: count)
            engine = nil
        } else {
            stream = nil
            engine = Engine(model: model, threads: threads ?? 1, withGradients: false)
        }
    }

    /// The state after the last step (zeros before the first and after `reset`).
    public var state: RecurrentState { stream?.state ?? engineState }

    /// Sets every stream's state back to zeros.
    public func reset() {
        stream?.reset()
        engineState = RecurrentState.zeroState(for: model.configuration, count: count)
    }

    /// Feeds one step (`[count, I]` features or `[count]` tokens) and returns the
    /// outputs `[count, O]`.
    public func step(_ inputs: SequenceBatch.Inputs) throws(ModelError) -> [Float] {
        var outputs = [Float](repeating: 0, count: count * model.configuration.outputSize)
        try step(inputs, into: &outputs)
        return outputs
    }

    /// Feeds one step and writes the outputs `[count, O]` into `outputs`,
    /// which must hold exactly that many: with a reused array, a step of a
    /// one-direction model allocates nothing.
    public func step(_ inputs: SequenceBatch.Inputs, into outputs: inout [Float]) throws(ModelError) {
        let c = model.configuration
        guard outputs.count == count * c.outputSize else {
            throw .inputMismatch("outputs holds \(outputs.count) floats, expected \(count) x \(c.outputSize)")
        }
        let batch = SequenceBatch(count: count, timeSteps: 1, inputs: inputs)
        try batch.validate(for: c, needsTargets: false)
        guard let stream else {
            outputs = try engine!.outputs(batch, initialState: engineState)
            engineState = engine!.finalState(count: count)
            return
        }
        let parameters = UnsafePointer(model.parameters.baseAddress), version = model.parameterVersion
        switch inputs {
        case .tokens(let tokens):
            tokens.withUnsafeBufferPointer {
                stream.step(.tokens($0.baseAddress!), parameters: parameters, version: version)
            }
        case .features(let features):
            features.withUnsafeBufferPointer {
                stream.step(.features($0.baseAddress!), parameters: parameters, version: version)
            }
        }
        outputs.withUnsafeMutableBufferPointer {
            $0.baseAddress!.update(from: stream.outputs.baseAddress, count: $0.count)
        }
    }
}
