/// The layer-normalised LSTM of Ba et al. 2016, as Haste's `LayerNormLSTM`
/// with a gain and a bias on every norm:
/// `pre = LN(W_ih x; γ_ih, β_ih) + LN(W_hh h'; γ_hh, β_hh)` over the 4H gate
/// columns, gates i, f, g, o as in the LSTM, and
/// `h = o tanh(LN(c; γ_c, β_c))` over the H units; each norm is PyTorch's
/// `layer_norm` with ε = 1e-5. The norms' biases take the place of `b_ih`
/// and `b_hh`. Tests/Fixtures/LAYER_NORM_LSTM.md writes out the backward pass.
///
/// Tensors, after `weight_ih` and `weight_hh`: `ln_ih_weight`, `ln_ih_bias`,
/// `ln_hh_weight`, `ln_hh_bias` (4H each) and `ln_cell_weight`,
/// `ln_cell_bias` (H each); gains start at 1 and biases at 0, as
/// `nn.LayerNorm`'s.
enum LayerNormLSTM: Cell {
    static var gateCount: Int { 4 }
    static var hasCellState: Bool { true }
    static var kernelName: String { "lstm_ln" }

    static func tensors(inputSize: Int, hiddenSize: Int) -> [CellTensor] {
        let gates = 4 * hiddenSize
        return [
            CellTensor("weight_ih", [gates, inputSize]), CellTensor("weight_hh", [gates, hiddenSize]),
            CellTensor("ln_ih_weight", [gates], initial: .constant(1)),
            CellTensor("ln_ih_bias", [gates], initial: .constant(0)),
            CellTensor("ln_hh_weight", [gates], initial: .constant(1)),
            CellTensor("ln_hh_bias", [gates], initial: .constant(0)),
            CellTensor("ln_cell_weight", [hiddenSize], initial: .constant(1)),
            CellTensor("ln_cell_bias", [hiddenSize], initial: .constant(0))
        ]
    }

    /// Each projection is normalised on its own.
    static var recurrentProjection: RecurrentProjection { .apart }
    static var kernelParameters: [String] {
        ["ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias", "ln_cell_weight", "ln_cell_bias"]
    }
    static var needsWholeRows: Bool { true }
    /// The normalised values and scales forward keeps; the sums backward leaves.
    static func savedWidth(hiddenSize: Int) -> Int { 18 * hiddenSize + 3 }
    /// `W_hh`'s side of every gate goes through its own norm.
    static var gatesWithOwnRecurrentGradient: Int { 4 }

    static func gradientSums(hiddenSize h: Int) -> [(tensor: String, column: Int)] {
        [
            ("ln_ih_weight", 4 * h), ("ln_hh_weight", 8 * h), ("ln_ih_bias", 12 * h), ("ln_hh_bias", 12 * h),
            ("ln_cell_weight", 16 * h), ("ln_cell_bias", 17 * h)
        ]
    }
}
