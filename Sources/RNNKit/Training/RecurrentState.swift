/// The hidden (and, for LSTM, cell) state of every layer and direction for a
/// batch of sequences, in PyTorch's `h_n` layout: `[layers * directions, N, hidden]`,
/// ordered layer 0 forward, layer 0 reverse, layer 1 forward, ...
///
/// A model's final state can start its next call, which carries state across
/// chunks of a long sequence (truncated backpropagation through time).
public struct RecurrentState: Sendable, Equatable {
    public var hidden: [Float]
    /// LSTM only.
    public var cell: [Float]?
    public let units: Int
    public let count: Int
    public let hiddenSize: Int

    public init(hidden: [Float], cell: [Float]?, units: Int, count: Int, hiddenSize: Int) {
        self.hidden = hidden
        self.cell = cell
        self.units = units
        self.count = count
        self.hiddenSize = hiddenSize
    }

    /// All-zero state for `count` sequences of a model.
    ///
    /// - Throws: ``ModelError/inputMismatch(_:)`` for a count below 1,
    ///   ``ModelError/tooLarge(_:)`` for a state beyond 2^31 floats.
    public static func zeros(for configuration: ModelConfiguration, count: Int) throws(ModelError) -> RecurrentState {
        guard count >= 1 else { throw .inputMismatch("a state needs at least one sequence, got \(count)") }
        let perSequence = configuration.layers * configuration.directions * configuration.hiddenSize
        guard let size = _checkedProduct(count, perSequence), size <= 1 << 31 else {
            throw .tooLarge("a state for \(count) sequences of \(perSequence) floats each exceeds 2^31 floats")
        }
        return zeroState(for: configuration, count: count)
    }

    /// `zeros` for a count already checked (the rows of a batch that ran).
    static func zeroState(for configuration: ModelConfiguration, count: Int) -> RecurrentState {
        let units = configuration.layers * configuration.directions
        let size = units * count * configuration.hiddenSize
        return RecurrentState(
            hidden: Array(repeating: 0, count: size),
            cell: configuration.cell.hasCellState ? Array(repeating: 0, count: size) : nil,
            units: units, count: count, hiddenSize: configuration.hiddenSize)
    }

    func validate(for configuration: ModelConfiguration, count expected: Int) throws(ModelError) {
        let units = configuration.layers * configuration.directions
        let size = units * expected * configuration.hiddenSize
        guard self.units == units, count == expected, hiddenSize == configuration.hiddenSize, hidden.count == size,
            (cell?.count ?? size) == size, (cell != nil) == configuration.cell.hasCellState
        else {
            throw .inputMismatch(
                "the initial state must be [\(units), \(expected), \(configuration.hiddenSize)]"
                    + (configuration.cell.hasCellState ? " with a cell state" : ""))
        }
    }
}
