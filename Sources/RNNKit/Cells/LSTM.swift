/// Long short-term memory, as PyTorch's `nn.LSTM`: gates i, f, g, o;
/// `c = f c' + i g`, `h = o tanh(c)`.
enum LSTM: Cell {
    static var gateCount: Int { 4 }
    static var hasCellState: Bool { true }
    static var kernelName: String { "lstm" }
    static var supportsProjection: Bool { true }
}
