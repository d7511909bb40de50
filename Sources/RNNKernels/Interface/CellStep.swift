// The buffers one timestep of a cell's post-GEMM kernels reads and writes:
// what the driver hands every instruction set's kernels.

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

    public init(rows: Int, hiddenSize: Int, time: Int, lengths: UnsafePointer<Int32>?,
                gates: UnsafeMutablePointer<Float>, previousHidden: UnsafePointer<Float>,
                hidden: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, outputStride: Int,
                units: Range<Int>? = nil) {
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

    public init(hidden: UnsafePointer<Float>, output: UnsafePointer<Float>?, outputStride: Int,
                previousHidden: UnsafeMutablePointer<Float>) {
        self.hidden = hidden
        self.output = output
        self.outputStride = outputStride
        self.previousHidden = previousHidden
    }
}
