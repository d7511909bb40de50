/// Elman RNN with tanh, as PyTorch's `nn.RNN(nonlinearity="tanh")`:
/// `h = tanh(W_ih x + b_ih + W_hh h' + b_hh)`.
enum TanhRNN: Cell {
    static var gateCount: Int { 1 }
    static var kernelName: String { "rnn_tanh" }
}

/// Elman RNN with ReLU, as PyTorch's `nn.RNN(nonlinearity="relu")`.
enum ReLURNN: Cell {
    static var gateCount: Int { 1 }
    static var kernelName: String { "rnn_relu" }
}
