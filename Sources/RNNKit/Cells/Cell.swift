import RNNKernels

// The driver's view of a cell: which post-GEMM kernels run one timestep and
// what extra per-step state they keep. Adding a cell kind means adding its
// kernel pair here, not touching the driver in `StackWorkspace`.

extension CellKind {
    /// Whether `b_hh` can be folded into the input projection. GRU keeps the
    /// recurrent bias apart because `r` scales `W_hn h + b_hn` only.
    var foldsRecurrentBias: Bool { self != .gru }

    /// Whether the recurrent GEMM writes to a scratch buffer (GRU) rather than
    /// accumulating onto the input projection.
    var separatesRecurrentProjection: Bool { self == .gru }

    /// One forward timestep after the recurrent GEMM.
    func forward(_ step: CellStep, _ state: CellStateBuffers, recurrentBias: UnsafePointer<Float>) {
        switch self {
        case .rnnTanh: VanillaRNNKernel.forward(step, relu: false)
        case .rnnReLU: VanillaRNNKernel.forward(step, relu: true)
        case .lstm: LSTMKernel.forward(step, previousCell: state.previousCell!, cell: state.cell!)
        case .gru:
            GRUKernel.forward(step, recurrent: state.recurrent!, recurrentBias: recurrentBias,
                              candidateRecurrent: state.candidate!)
        }
    }

    /// One backward timestep before the recurrent GEMM.
    func backward(_ step: CellStep, _ gradient: CellGradientStep, _ state: CellStateBuffers) {
        switch self {
        case .rnnTanh: VanillaRNNKernel.backward(step, gradient, relu: false)
        case .rnnReLU: VanillaRNNKernel.backward(step, gradient, relu: true)
        case .lstm:
            LSTMKernel.backward(step, gradient, previousCell: state.previousCell!, cell: state.cell!,
                                cellGradient: state.cellGradient!)
        case .gru:
            GRUKernel.backward(step, gradient, candidateRecurrent: state.candidate!, recurrentGradient: state.recurrent!)
        }
    }

    /// Where `backward` leaves the recurrent-side gate gradients that the
    /// recurrent GEMM multiplies by `W_hh`.
    func recurrentGateGradient(_ step: CellStep, _ state: CellStateBuffers) -> UnsafeMutablePointer<Float> {
        separatesRecurrentProjection ? state.recurrent! : step.gates
    }
}

/// The cell-specific buffers of one timestep (nil where a cell has none).
struct CellStateBuffers {
    var previousCell: UnsafeMutablePointer<Float>?
    var cell: UnsafeMutablePointer<Float>?
    var cellGradient: UnsafeMutablePointer<Float>?
    var candidate: UnsafeMutablePointer<Float>?
    var recurrent: UnsafeMutablePointer<Float>?
}
