/// The hidden (and, for LSTM, cell) state of every layer and direction for a
/// batch of sequences, in PyTorch's `h_n` layout: `[layers * directions, N, hidden]`,
/// ordered layer 0 forward, layer 0 reverse, layer 1 forward, ... With
/// projections `h_n` is `proj_size` wide and `c_n` keeps `hidden_size`, as
/// in PyTorch.
///
/// A model's final state can start its next call, which carries state across
/// chunks of a long sequence (truncated backpropagation through time).
public struct RecurrentState: Sendable, Equatable {
    public var hidden: [Float]
    /// LSTM only.
    public var cell: [Float]?
    public let units: Int
    public let count: Int
    /// The width of `hidden`: the model's `stateSize`.
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
        let perSequence =
            configuration.layers * configuration.directions * (configuration.stateSize + configuration.hiddenSize)
        guard let size = _checkedProduct(count, perSequence), size <= 1 << 31 else {
            throw .tooLarge("a state for \(count) sequences of \(perSequence) floats each exceeds 2^31 floats")
        }
        return zeroState(for: configuration, count: count)
    }

    /// `zeros` for a count already checked (the rows of a batch that ran).
    static func zeroState(for configuration: ModelConfiguration, count: Int) -> RecurrentState {
        let units = configuration.layers * configuration.directions
        return RecurrentState(
            hidden: Array(repeating: 0, count: units * count * configuration.stateSize),
            cell: configuration.cell.hasCellState
                ? Array(repeating: 0, count: units * count * configuration.hiddenSize) : nil,
            units: units, count: count, hiddenSize: configuration.stateSize)
    }

    func validate(for configuration: ModelConfiguration, count expected: Int) throws(ModelError) {
        let units = configuration.layers * configuration.directions
        let size = units * expected * configuration.stateSize, cellSize = units * expected * configuration.hiddenSize
        guard self.units == units, count == expected, hiddenSize == configuration.stateSize, hidden.count == size,
            (cell?.count ?? cellSize) == cellSize, (cell != nil) == configuration.cell.hasCellState
        else {
            throw .inputMismatch(
                "the initial state must be [\(units), \(expected), \(configuration.stateSize)]"
                    + (configuration.cell.hasCellState
                        ? " with a cell state [\(units), \(expected), \(configuration.hiddenSize)]" : ""))
        }
    }
}
