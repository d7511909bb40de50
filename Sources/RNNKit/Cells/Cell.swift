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
    /// How the recurrent projection and its bias meet the input projection.
    static var recurrentProjection: RecurrentProjection { get }
    /// Floats per row and timestep its kernels keep in `CellStep.saved`.
    static func savedWidth(hiddenSize: Int) -> Int
    /// The trailing gate blocks whose recurrent-side gradient is not the
    /// input side's: backward leaves it in the first columns of `saved`, and
    /// `W_hh`'s and `b_hh`'s gradients for those gates are taken from there.
    static var gatesWithOwnRecurrentGradient: Int { get }
}

/// How a cell combines `W_hh h' + b_hh` with the input projection.
enum RecurrentProjection {
    /// Summed onto the gate buffer, with `b_hh` folded into the input
    /// projection's bias (`b_ih + b_hh`), since the cell only reads the sum.
    case summedIntoGates
    /// Kept apart in `CellStep.recurrent`, `b_hh` passed to the kernels as
    /// `CellStep.cellParameters`, for cells that scale part of it (a GRU's `r`).
    case apart
}

extension Cell {
    static var hasCellState: Bool { false }
    static var recurrentProjection: RecurrentProjection { .summedIntoGates }
    static func savedWidth(hiddenSize: Int) -> Int { 0 }
    static var gatesWithOwnRecurrentGradient: Int { 0 }
}

extension CellKind {
    /// The cell type behind each kind: where a new cell is registered.
    var cell: any Cell.Type {
        switch self {
        case .lstm: LSTM.self
        case .gru: GRU.self
        case .rnnTanh: TanhRNN.self
        case .rnnReLU: ReLURNN.self
        }
    }
}
