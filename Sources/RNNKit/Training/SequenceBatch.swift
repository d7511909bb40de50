/// Sequences (and optionally their targets) in batch-first, row-major arrays.
///
/// Shapes, with N = `count`, T = `timeSteps`, I = input features, O = outputs:
/// - `inputs`: `.features` `[N, T, I]` or `.tokens` `[N, T]`; for one-to-one
///   and one-to-many models a single vector per sequence, `[N, I]`.
/// - `lengths`: valid steps per sequence (1...T); steps past a sequence's
///   length are padding that changes no state and counts in no loss.
/// - `decoderInputs`: encoder-decoder models only, `[N, decoderTimeSteps, I]`.
/// - `targets`: per step (`[N, T', O]` values or `[N, T']` classes, T' the
///   output steps) or per sequence (`[N, O]` values or `[N]` classes),
///   following the model's topology.
public struct SequenceBatch: Sendable {
    public enum Inputs: Sendable {
        case features([Float])
        case tokens([Int32])
    }

    public enum Targets: Sendable {
        /// Regression targets, trained with mean squared error.
        case values([Float])
        /// Class indices, trained with softmax cross-entropy.
        case classes([Int32])
    }

    public var count: Int
    public var timeSteps: Int
    public var inputs: Inputs
    public var lengths: [Int32]?
    public var decoderInputs: [Float]?
    public var decoderTimeSteps: Int
    public var targets: Targets?

    public init(
        count: Int, timeSteps: Int, inputs: Inputs, lengths: [Int32]? = nil,
        decoderInputs: [Float]? = nil, decoderTimeSteps: Int = 0, targets: Targets? = nil
    ) {
        self.count = count
        self.timeSteps = timeSteps
        self.inputs = inputs
        self.lengths = lengths
        self.decoderInputs = decoderInputs
        self.decoderTimeSteps = decoderTimeSteps
        self.targets = targets
    }

    /// The length of sequence `row`.
    @inline(__always)
    func length(of row: Int) -> Int { lengths.map { Int($0[row]) } ?? timeSteps }
}

/// The loss a batch's targets imply.
public enum LossKind: String, Sendable, Codable {
    /// Mean squared error over every counted output element.
    case meanSquaredError = "mse"
    /// Softmax cross-entropy averaged over counted positions.
    case crossEntropy = "cross_entropy"
}

extension SequenceBatch.Targets {
    public var loss: LossKind {
        switch self {
        case .values: .meanSquaredError
        case .classes: .crossEntropy
        }
    }
}

extension SequenceBatch {
    /// Checks every shape, length and token against `configuration`; the
    /// engine trusts a batch only after this.
    func validate(for configuration: ModelConfiguration, needsTargets: Bool) throws(ModelError) {
        let c = configuration
        func fail(_ message: String) -> ModelError { .inputMismatch(message) }
        guard count > 0 else { throw fail("the batch is empty") }
        let vectorInput = c.topology == .oneToOne || c.topology == .oneToMany
        guard timeSteps > 0 else { throw fail("time steps must be positive, got \(timeSteps)") }
        // Bounds that keep every product of the batch's sizes below from overflowing.
        guard count <= SequenceBatch.maximumCount, timeSteps <= SequenceBatch.maximumTimeSteps,
            c.topology != .encoderDecoder || decoderTimeSteps <= SequenceBatch.maximumTimeSteps
        else {
            throw fail(
                "a batch holds at most \(SequenceBatch.maximumCount) sequences of \(SequenceBatch.maximumTimeSteps) "
                    + "steps, got \(count) x "
                    + "\(c.topology == .encoderDecoder ? max(timeSteps, decoderTimeSteps) : timeSteps)"
            )
        }
        if c.topology == .oneToOne, timeSteps != 1 { throw fail("a one_to_one model reads one step, got \(timeSteps)") }
        let inputSteps = vectorInput ? 1 : timeSteps
        switch (inputs, c.input) {
        case (.features(let values), .dense(let features)):
            guard values.count == _checkedProduct(count, inputSteps, features) else {
                throw fail("inputs hold \(values.count) floats, expected \(count) x \(inputSteps) x \(features)")
            }
        case (.tokens(let tokens), .embedding(let vocabularySize, _)),
            (.tokens(let tokens), .oneHot(let vocabularySize)):
            guard tokens.count == _checkedProduct(count, inputSteps) else {
                throw fail("inputs hold \(tokens.count) tokens, expected \(count) x \(inputSteps)")
            }
            for (index, token) in tokens.enumerated() where token < 0 || Int(token) >= vocabularySize {
                let row = index / inputSteps, step = index % inputSteps
                // Padding may hold anything; the engine never reads it.
                if step < length(ofUnchecked: row) {
                    throw fail(
                        "token \(token) at sequence \(row), step \(step) is outside the vocabulary "
                            + "0..<\(vocabularySize)"
                    )
                }
            }
        case (.features, _): throw fail("the model reads tokens but the inputs are float features")
        case (.tokens, _): throw fail("the model reads float features but the inputs are tokens")
        }
        if let lengths {
            guard lengths.count == count else { throw fail("\(lengths.count) lengths for \(count) sequences") }
            if let bad = lengths.firstIndex(where: { $0 < 1 || Int($0) > timeSteps }) {
                throw fail("sequence \(bad) has length \(lengths[bad]), expected 1...\(timeSteps)")
            }
            if c.topology == .oneToMany || c.topology == .oneToOne {
                throw fail("\(c.topology.rawValue) models take no lengths")
            }
        }
        if c.topology == .encoderDecoder {
            guard let decoderInputs, decoderTimeSteps > 0,
                decoderInputs.count == _checkedProduct(count, decoderTimeSteps, c.input.rnnInputSize)
            else {
                throw fail(
                    "an encoder-decoder model needs decoder inputs of \(count) x steps x \(c.input.rnnInputSize)")
            }
        }
        guard let targets else {
            if needsTargets { throw fail("training needs targets") }
            return
        }
        let outputSteps = c.topology == .encoderDecoder ? decoderTimeSteps : timeSteps
        let positions = c.topology.outputsPerStep ? count * outputSteps : count
        switch targets {
        case .values(let values):
            guard values.count == _checkedProduct(positions, c.outputSize) else {
                throw fail("targets hold \(values.count) floats, expected \(positions) x \(c.outputSize)")
            }
            if c.topology == .oneToMany, c.outputSize != c.input.rnnInputSize {
                throw fail("one_to_many feeds targets back as inputs, so output and input sizes must match")
            }
        case .classes(let labels):
            guard labels.count == positions else { throw fail("\(labels.count) class labels, expected \(positions)") }
            guard c.topology != .oneToMany else { throw fail("one_to_many models train on float targets") }
            for (index, label) in labels.enumerated() where label < 0 || Int(label) >= c.outputSize {
                let counted =
                    c.topology.outputsPerStep && c.topology != .encoderDecoder
                    ? index % outputSteps < length(ofUnchecked: index / outputSteps) : true
                if counted { throw fail("class label \(label) at position \(index) is outside 0..<\(c.outputSize)") }
            }
        }
    }

    /// The most sequences, and steps per sequence, a batch may have.
    public static let maximumCount = 1 << 31
    public static let maximumTimeSteps = 1 << 24

    private func length(ofUnchecked row: Int) -> Int {
        guard let lengths, row < lengths.count else { return timeSteps }
        return Int(lengths[row])
    }
}
