/// Gated recurrent unit, as PyTorch's `nn.GRU`: gates r, z, n;
/// `n = tanh(x_n + r (W_hn h' + b_hn))`, `h = (1 - z) n + z h'`.
///
/// `r` scales the recurrent projection of `n` only, so the recurrent
/// projection stays apart from the input projection and the kernels add
/// `b_hh` themselves. They keep `W_hn h' + b_hn` per step, then its gradient
/// `dn * r`: the recurrent-side gradient of gate n.
enum GRU: Cell {
    static var gateCount: Int { 3 }
    static var kernelName: String { "gru" }
    static var recurrentProjection: RecurrentProjection { .apart }
    static var kernelParameters: [String] { ["bias_hh"] }
    static func savedWidth(hiddenSize: Int) -> Int { hiddenSize }
    static var gatesWithOwnRecurrentGradient: Int { 1 }
}
