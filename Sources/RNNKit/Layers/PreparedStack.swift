import RNNKernels

/// Read-only forms of a stack's weights shared by every shard of a step:
/// recurrent and input weights packed for the GEMMs, folded input biases
/// and, for one-hot input, the transposed input weights whose rows the
/// forward pass gathers. Refreshed once after each parameter update.
final class PreparedStack: @unchecked Sendable {
    let shape: StackShape
    let kernels: Kernels
    /// The fused forward step, where the kernels have one for this cell and
    /// hidden size (and the layer has no projection), up to
    /// `fusedHiddenSizeLimit` units: the forward recurrence then reads
    /// `fusedRecurrent` instead of `recurrentForward`.
    let fusedStep: FusedCellStep?
    /// `W_hhᵀ` (state × gates) per unit, for the forward recurrence; empty
    /// when it is fused.
    let recurrentForward: [PackedMatrix]
    /// With a fused step: `W_hh` per unit, packed for it.
    let fusedRecurrent: [AlignedBuffer]
    /// `W_hh` (gates × state) per unit, for backpropagation through time.
    let recurrentBackward: [PackedMatrix]
    /// `W_ihᵀ` (input × gates) per unit, for the input projections, which
    /// run a few steps at a time; nil for a one-hot first layer, which
    /// gathers `inputColumns` instead.
    let inputForward: [PackedMatrix?]
    /// `b_ih + b_hh` per unit, `b_ih` alone where the recurrent projection
    /// is kept apart, zeros for cells without these biases.
    let inputBias: [AlignedBuffer]
    /// The tensors the cell's kernels read, packed one after another, per unit.
    let cellParameters: [AlignedBuffer]
    /// One-hot input only: `W_ihᵀ` (vocabulary × gates) per direction of layer 0.
    let inputColumns: [AlignedBuffer]

    /// Batches of 32-row shards take the fused step up to 128 units. At 256
    /// it ran 0.88-0.97x the recurrent multiply and cell kernel alone
    /// (`rnnkit-bench --gemm`) and no faster inside a training step; a
    /// streaming step, a few rows, takes it at every size it exists for.
    static let fusedHiddenSizeLimit = 128

    init(shape: StackShape, kernels: Kernels) {
        self.shape = shape
        self.kernels = kernels
        let gates = shape.gateWidth, state = shape.stateSize
        let fusedStep =
            shape.hasProjection || shape.hiddenSize > Self.fusedHiddenSizeLimit
            ? nil : kernels.fusedStep(named: shape.cell.cell.kernelName, hiddenSize: shape.hiddenSize)
        self.fusedStep = fusedStep
        recurrentForward =
            fusedStep != nil
            ? [] : (0..<shape.unitCount).map { _ in PackedMatrix(rows: state, columns: gates, kernels: kernels) }
        fusedRecurrent =
            fusedStep.map { fused in (0..<shape.unitCount).map { _ in AlignedBuffer(count: fused.packedCount) } }
            ?? []
        recurrentBackward = (0..<shape.unitCount).map { _ in
            PackedMatrix(rows: gates, columns: state, kernels: kernels)
        }
        inputForward = (0..<shape.unitCount).map { unit in
            let layer = unit / shape.directions
            return shape.oneHotInput && layer == 0
                ? nil : PackedMatrix(rows: shape.layerInputSize(layer), columns: gates, kernels: kernels)
        }
        inputBias = (0..<shape.unitCount).map { _ in AlignedBuffer(count: gates) }
        cellParameters = shape.offsets.map { AlignedBuffer(count: $0.kernelParameters.reduce(0) { $0 + $1.count }) }
        inputColumns =
            shape.oneHotInput ? (0..<shape.directions).map { _ in AlignedBuffer(count: shape.inputSize * gates) } : []
    }

    func refresh(from parameters: UnsafePointer<Float>) {
        let gates = shape.gateWidth, state = shape.stateSize
        for unit in 0..<shape.unitCount {
            let weights = shape.tensors(of: unit, reading: parameters)
            if let fusedStep {
                fusedStep.pack(weights.weightHH.base, into: fusedRecurrent[unit].baseAddress)
            } else {
                recurrentForward[unit].pack(weights.weightHH.base, ldb: state, transposed: true)
            }
            recurrentBackward[unit].pack(weights.weightHH.base, ldb: state, transposed: false)
            inputForward[unit]?.pack(weights.weightIH.base, ldb: weights.weightIH.width, transposed: true)
            shape.foldInputBias(of: unit, from: parameters, into: inputBias[unit].baseAddress, kernels: kernels)
            shape.packKernelParameters(of: unit, from: parameters, into: cellParameters[unit].baseAddress)
        }
        for (direction, columns) in inputColumns.enumerated() {
            shape.transposeInputWeights(of: direction, from: parameters, into: columns.baseAddress)
        }
    }
}
