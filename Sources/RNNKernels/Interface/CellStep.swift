// The buffers one timestep of a cell's post-GEMM kernels reads and writes:
// what the driver hands every cell's kernels, whatever the cell. A cell uses
// the buffers it needs and leaves the others nil; the driver fills the ones
// its cell asks for (see RNNKit's `Cell`).

/// Buffers of one timestep shared by every cell's kernels. Rows are contiguous
/// with the strides given; the gate buffer holds `gateCount * hiddenSize` per row.
public struct CellStep {
    public var rows: Int
    public var hiddenSize: Int
    /// The hidden units to compute, within `0..<hiddenSize`; nothing outside
    /// them is read or written, so threads may run disjoint ranges at once,
    /// and a unit's results do not depend on which others are computed with it.
    public var units: Range<Int>
    /// Sequence position of this step, for the length mask.
    public var time: Int
    /// Per-row sequence lengths, or nil when every row is full length.
    public var lengths: UnsafePointer<Int32>?
    public var gates: UnsafeMutablePointer<Float>
    public var previousHidden: UnsafePointer<Float>
    public var hidden: UnsafeMutablePointer<Float>
    /// Where the layer's output row goes (a slice of `[rows, directions * hiddenSize]`).
    public var output: UnsafeMutablePointer<Float>
    public var outputStride: Int

    // Cell-specific buffers, nil where the cell has none.

    /// The cell state before this step and after it, `[rows, hiddenSize]`
    /// each (an LSTM's `c`).
    public var previousCell: UnsafePointer<Float>?
    public var cell: UnsafeMutablePointer<Float>?
    /// For cells that keep the recurrent projection apart from the input
    /// projection: forward reads this step's `W_hh h'` here, `[rows,
    /// gateCount * hiddenSize]`, and backward writes the recurrent-side gate
    /// gradients here for the recurrent GEMM.
    public var recurrent: UnsafeMutablePointer<Float>?
    /// Values this step keeps for backward, `[rows, width]` with a width the
    /// cell chooses; forward writes them and backward may overwrite them.
    public var saved: UnsafeMutablePointer<Float>?
    /// The cell's own parameters that its kernels read (a GRU's `b_hh`).
    public var cellParameters: UnsafePointer<Float>?
    /// Whether forward keeps what only backward reads (the activated gates,
    /// a GRU's `saved`); inference skips those stores. The state and the
    /// output are the same either way.
    public var keepsForBackward = true

    public init(
        rows: Int, hiddenSize: Int, time: Int, lengths: UnsafePointer<Int32>?,
        gates: UnsafeMutablePointer<Float>, previousHidden: UnsafePointer<Float>,
        hidden: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, outputStride: Int,
        units: Range<Int>? = nil
    ) {
        self.rows = rows
        self.hiddenSize = hiddenSize
        self.units = units ?? 0..<hiddenSize
        self.time = time
        self.lengths = lengths
        self.gates = gates
        self.previousHidden = previousHidden
        self.hidden = hidden
        self.output = output
        self.outputStride = outputStride
    }

    /// Whether `row` still has a valid step at this position; padded steps
    /// leave the state unchanged and take no gradient.
    @inlinable
    public func isActive(row: Int) -> Bool {
        guard let lengths else { return true }
        return time < Int(lengths[row])
    }
}

/// Gradient buffers of one timestep, walked in reverse time order.
public struct CellGradientStep {
    /// Gradient reaching this step's hidden state from the next step (through
    /// the recurrent GEMM); read here.
    public var hidden: UnsafePointer<Float>
    /// Gradient of the loss with respect to this step's output row, or nil when
    /// the output feeds nothing (the last layer of a many-to-one model).
    public var output: UnsafePointer<Float>?
    public var outputStride: Int
    /// Written: the part of the previous hidden state's gradient that does not
    /// go through the recurrent GEMM (which then accumulates onto it).
    public var previousHidden: UnsafeMutablePointer<Float>
    /// For cells with a cell state: its gradient from the next step, which
    /// backward overwrites with the previous step's, `[rows, hiddenSize]`.
    public var cell: UnsafeMutablePointer<Float>?

    public init(
        hidden: UnsafePointer<Float>, output: UnsafePointer<Float>?, outputStride: Int,
        previousHidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>? = nil
    ) {
        self.hidden = hidden
        self.output = output
        self.outputStride = outputStride
        self.previousHidden = previousHidden
        self.cell = cell
    }
}

/// One cell's kernels for one hidden size, as resolved by `Kernels.cell(named:hiddenSize:)`:
/// the element-wise part of a timestep after the recurrent GEMM (forward)
/// and before it (backward). Every cell's pair has this one signature.
public struct CellKernelPair: Sendable {
    public let forward: @Sendable (CellStep) -> Void
    public let backward: @Sendable (CellStep, CellGradientStep) -> Void

    public init(
        forward: @escaping @Sendable (CellStep) -> Void,
        backward: @escaping @Sendable (CellStep, CellGradientStep) -> Void
    ) {
        self.forward = forward
        self.backward = backward
    }
}
