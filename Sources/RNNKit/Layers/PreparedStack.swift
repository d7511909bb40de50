import RNNKernels

/// Read-only forms of a stack's weights: recurrent, input and projection
/// weights packed for the GEMMs, folded input biases, the cell's packed
/// tensors and, for one-hot input, the transposed input weights whose rows
/// the forward pass gathers. A batch pass shares one among its shards; a
/// streaming stack keeps its own. Made again only when the model's
/// `parameterVersion` moves.
final class PreparedStack: @unchecked Sendable {
    /// What the stack runs, which decides what is prepared.
    enum Use {
        /// Forward and backward passes over batches of 32-row shards.
        case training
        /// Forward passes over batches: nothing for backward.
        case inference
        /// One step at a time for a few streams: nothing for backward, and
        /// a fused step at every hidden size the kernels have one for.
        case streaming

        /// The largest hidden size that takes the fused step. Batches of
        /// 32-row shards take it up to 128 units: at 256 it ran 0.88-0.97x the
        /// recurrent multiply and cell kernel alone (`rnnkit-bench --gemm`)
        /// and no faster inside a training step. A streaming step, a few
        /// rows, takes it at every size it exists for.
        var fusedHiddenSizeLimit: Int { self == .streaming ? .max : 128 }
    }

    let shape: StackShape
    let kernels: Kernels
    /// The fused forward step, where the kernels have one for this cell and
    /// hidden size (and the layer has no projection), up to the use's
    /// limit: the forward recurrence then reads `fusedRecurrent` instead of
    /// `recurrentForward`.
    let fusedStep: FusedCellStep?
    /// `W_hhᵀ` (state × gates) per unit, for the forward recurrence; empty
    /// when it is fused.
    let recurrentForward: [PackedMatrix]
    /// With a fused step: `W_hh` per unit, packed for it.
    let fusedRecurrent: [AlignedBuffer]
    /// `W_hh` (gates × state) per unit, for backpropagation through time;
    /// empty unless training.
    let recurrentBackward: [PackedMatrix]
    /// `W_ihᵀ` (input × gates) per unit, for the input projections; nil for
    /// a one-hot first layer, which gathers `inputColumns` instead.
    let inputForward: [PackedMatrix?]
    /// With projections: `W_hrᵀ` (hidden × state) per unit; empty without.
    let projectionForward: [PackedMatrix]
    /// `b_ih + b_hh` per unit, `b_ih` alone where the recurrent projection
    /// is kept apart, zeros for cells without these biases.
    let inputBias: [AlignedBuffer]
    /// The tensors the cell's kernels read, packed one after another, per unit.
    let cellParameters: [AlignedBuffer]
    /// One-hot input only: `W_ihᵀ` (vocabulary × gates) per direction of layer 0.
    let inputColumns: [AlignedBuffer]
    /// The model's `parameterVersion` that the buffers were made from; nil before the first.
    private var preparedVersion: Int?

    init(shape: StackShape, kernels: Kernels, use: Use) {
        self.shape = shape
        self.kernels = kernels
        let gates = shape.gateWidth, state = shape.stateSize, units = 0..<shape.unitCount
        let fusedStep =
            shape.hasProjection || shape.hiddenSize > use.fusedHiddenSizeLimit
            ? nil : kernels.fusedStep(named: shape.cell.cell.kernelName, hiddenSize: shape.hiddenSize)
        self.fusedStep = fusedStep
        recurrentForward =
            fusedStep != nil ? [] : units.map { _ in PackedMatrix(rows: state, columns: gates, kernels: kernels) }
        fusedRecurrent = fusedStep.map { fused in units.map { _ in AlignedBuffer(count: fused.packedCount) } } ?? []
        recurrentBackward =
            use == .training ? units.map { _ in PackedMatrix(rows: gates, columns: state, kernels: kernels) } : []
        inputForward = units.map { unit in
            let layer = unit / shape.directions
            return shape.oneHotInput && layer == 0
                ? nil : PackedMatrix(rows: shape.layerInputSize(layer), columns: gates, kernels: kernels)
        }
        projectionForward =
            shape.hasProjection
            ? units.map { _ in PackedMatrix(rows: shape.hiddenSize, columns: state, kernels: kernels) } : []
        inputBias = units.map { _ in AlignedBuffer(count: gates) }
        cellParameters = shape.offsets.map { AlignedBuffer(count: $0.kernelParameters.reduce(0) { $0 + $1.count }) }
        inputColumns =
            shape.oneHotInput ? (0..<shape.directions).map { _ in AlignedBuffer(count: shape.inputSize * gates) } : []
    }

    /// Makes every prepared form from `parameters`, unless they were made
    /// from this `version` of them already; returns whether it made them.
    @discardableResult
    func prepare(from parameters: UnsafePointer<Float>, version: Int) -> Bool {
        guard version != preparedVersion else { return false }
        for unit in 0..<shape.unitCount {
            let weights = shape.tensors(of: unit, reading: parameters)
            let weightHH = weights.weightHH
            if let fusedStep {
                fusedStep.pack(weightHH.base, into: fusedRecurrent[unit].baseAddress)
            } else {
                recurrentForward[unit].pack(weightHH.base, ldb: weightHH.width, transposed: true)
            }
            if !recurrentBackward.isEmpty {
                recurrentBackward[unit].pack(weightHH.base, ldb: weightHH.width, transposed: false)
            }
            inputForward[unit]?.pack(weights.weightIH.base, ldb: weights.weightIH.width, transposed: true)
            if let weightHR = weights.weightHR {
                projectionForward[unit].pack(weightHR.base, ldb: weightHR.width, transposed: true)
            }
            shape.foldInputBias(of: unit, from: parameters, into: inputBias[unit].baseAddress, kernels: kernels)
            shape.packKernelParameters(of: unit, from: parameters, into: cellParameters[unit].baseAddress)
        }
        for (direction, columns) in inputColumns.enumerated() {
            shape.transposeInputWeights(of: direction, from: parameters, into: columns.baseAddress)
        }
        preparedVersion = version
        return true
    }
}
