import RNNKernels

/// What the layer driver (`StackWorkspace`) needs to know of a cell kind.
/// Each cell is one type in this folder; its kernel pair lives in the
/// kernel templates (`Sources/RNNKernels/Templates/CellKernels.swift`) under
/// `kernelName`, and `CellKind.cell` registers it. The driver itself has no
/// cell-specific branches: it allocates what the cell asks for, fills the
/// matching `CellStep` buffers, and runs the cell's kernels.
protocol Cell {
    /// Gate blocks stacked in `weight_ih` / `weight_hh`.
    static var gateCount: Int { get }
    /// Whether the cell carries a cell state beside the hidden state
    /// (`CellStep.previousCell` / `cell`, `CellGradientStep.cell`).
    static var hasCellState: Bool { get }
    /// The name of its kernel pair in the templates.
    static var kernelName: String { get }
    /// Its parameter tensors for one layer and direction, in storage order,
    /// with PyTorch's names (without the `_l{k}` suffix). `weight_ih` and
    /// `weight_hh` come first; every cell has them.
    static func tensors(inputSize: Int, hiddenSize: Int) -> [CellTensor]
    /// How the recurrent projection and its bias meet the input projection.
    static var recurrentProjection: RecurrentProjection { get }
    /// The tensors its kernels read, packed one after another into
    /// `CellStep.cellParameters` in this order.
    static var kernelParameters: [String] { get }
    /// Whether the cell takes PyTorch's `proj_size` (an LSTM's projection of
    /// its hidden state, `h = W_hr (o * tanh(c))`).
    static var supportsProjection: Bool { get }
    /// Whether a step must run whole rows (its kernels take statistics over
    /// a row's units), rather than being split by units between threads.
    static var needsWholeRows: Bool { get }
    /// Floats per row and timestep its kernels keep in `CellStep.saved`.
    static func savedWidth(hiddenSize: Int) -> Int
    /// The trailing gate blocks whose recurrent-side gradient is not the
    /// input side's: backward leaves it in the first columns of `saved`, and
    /// `W_hh`'s (and `b_hh`'s) gradients for those gates are taken from there.
    static var gatesWithOwnRecurrentGradient: Int { get }
    /// Tensors whose gradient is a column sum over every row and step of
    /// `saved` after backward: the tensor's name and its first column there.
    static func gradientSums(hiddenSize: Int) -> [(tensor: String, column: Int)]
}

/// One parameter tensor of a cell.
struct CellTensor {
    enum Initial {
        /// PyTorch's recurrent initialisation, uniform in ±1/√hidden.
        case uniform
        /// A constant, as `nn.LayerNorm` starts its gain (1) and bias (0).
        case constant(Float)
    }

    let name: String
    let shape: [Int]
    let initial: Initial

    init(_ name: String, _ shape: [Int], initial: Initial = .uniform) {
        self.name = name
        self.shape = shape
        self.initial = initial
    }
}

/// How a cell combines `W_hh h'` (and `b_hh`) with the input projection.
enum RecurrentProjection {
    /// Summed onto the gate buffer, with `b_hh` folded into the input
    /// projection's bias (`b_ih + b_hh`), since the cell only reads the sum.
    case summedIntoGates
    /// Kept apart in `CellStep.recurrent` for cells that treat it on its own
    /// (a GRU's `r` scales part of it); backward leaves the recurrent-side
    /// gate gradients there.
    case apart
}

extension Cell {
    /// PyTorch's four tensors: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    static func tensors(inputSize: Int, hiddenSize: Int) -> [CellTensor] {
        let gates = gateCount * hiddenSize
        return [
            CellTensor("weight_ih", [gates, inputSize]), CellTensor("weight_hh", [gates, hiddenSize]),
            CellTensor("bias_ih", [gates]), CellTensor("bias_hh", [gates])
        ]
    }

    static var hasCellState: Bool { false }
    static var supportsProjection: Bool { false }
    static var recurrentProjection: RecurrentProjection { .summedIntoGates }
    static var kernelParameters: [String] { [] }
    static var needsWholeRows: Bool { false }
    static func savedWidth(hiddenSize: Int) -> Int { 0 }
    static var gatesWithOwnRecurrentGradient: Int { 0 }
    static func gradientSums(hiddenSize: Int) -> [(tensor: String, column: Int)] { [] }
}

extension Cell {
    /// The cell's tensors with a projection of width `projectionSize` (0:
    /// none): `weight_hh` then reads the `[P]` projected state, and
    /// `weight_hr` `[P, hidden]` follows the biases, as in PyTorch.
    static func tensors(inputSize: Int, hiddenSize: Int, projectionSize: Int) -> [CellTensor] {
        let tensors = tensors(inputSize: inputSize, hiddenSize: hiddenSize)
        guard projectionSize > 0 else { return tensors }
        return tensors.map {
            $0.name == "weight_hh" ? CellTensor("weight_hh", [gateCount * hiddenSize, projectionSize]) : $0
        } + [CellTensor("weight_hr", [projectionSize, hiddenSize])]
    }
}

extension CellKind {
    /// The cell type behind each kind: where a new cell is registered.
    var cell: any Cell.Type {
        switch self {
        case .lstm: LSTM.self
        case .gru: GRU.self
        case .rnnTanh: TanhRNN.self
        case .rnnReLU: ReLURNN.self
        case .layerNormLSTM: LayerNormLSTM.self
        }
    }
}
