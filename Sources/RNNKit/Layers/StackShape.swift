import RNNKernels

/// The shape of a stack of recurrent layers (one or two directions each) and
/// where its parameters sit in the model's flat buffer.
struct StackShape: Sendable {
    struct Offsets: Sendable {
        let weightIH: Int
        let weightHH: Int
        let biasIH: Int
        let biasHH: Int
    }

    let cell: CellKind
    /// Width of the first layer's input (the vocabulary for one-hot input).
    let inputSize: Int
    let hiddenSize: Int
    let layers: Int
    let directions: Int
    let oneHotInput: Bool
    /// Indexed by `layer * directions + direction`.
    let offsets: [Offsets]

    init(prefix: String, configuration c: ModelConfiguration, layout: ParameterLayout) {
        cell = c.cell
        inputSize = c.input.rnnInputSize
        hiddenSize = c.hiddenSize
        layers = c.layers
        directions = c.directions
        if case .oneHot = c.input { oneHotInput = true } else { oneHotInput = false }
        var offsets: [Offsets] = []
        for layer in 0..<c.layers {
            for direction in 0..<c.directions {
                let suffix = ParameterLayout.suffix(layer: layer, direction: direction)
                offsets.append(Offsets(weightIH: layout.offset("\(prefix).weight_ih\(suffix)"),
                                       weightHH: layout.offset("\(prefix).weight_hh\(suffix)"),
                                       biasIH: layout.offset("\(prefix).bias_ih\(suffix)"),
                                       biasHH: layout.offset("\(prefix).bias_hh\(suffix)")))
            }
        }
        self.offsets = offsets
    }

    var gateWidth: Int { cell.gateCount * hiddenSize }
    var outputWidth: Int { directions * hiddenSize }
    var unitCount: Int { layers * directions }
    func layerInputSize(_ layer: Int) -> Int { layer == 0 ? inputSize : outputWidth }
}

/// Read-only forms of a stack's weights shared by every shard of a step:
/// recurrent weights packed for the per-timestep GEMMs, folded input biases
/// and, for one-hot input, the transposed input weights whose rows the
/// forward pass gathers. Refreshed once after each parameter update.
final class PreparedStack: @unchecked Sendable {
    let shape: StackShape
    /// `W_hhᵀ` (hidden × gates) per unit, for the forward recurrence.
    let recurrentForward: [PackedMatrix]
    /// `W_hh` (gates × hidden) per unit, for backpropagation through time.
    let recurrentBackward: [PackedMatrix]
    /// `b_ih + b_hh` (or `b_ih` alone for GRU) per unit.
    let inputBias: [AlignedBuffer]
    /// One-hot input only: `W_ihᵀ` (vocabulary × gates) per direction of layer 0.
    let inputColumns: [AlignedBuffer]

    init(shape: StackShape) {
        self.shape = shape
        let gates = shape.gateWidth, hidden = shape.hiddenSize
        recurrentForward = (0..<shape.unitCount).map { _ in PackedMatrix(rows: hidden, columns: gates) }
        recurrentBackward = (0..<shape.unitCount).map { _ in PackedMatrix(rows: gates, columns: hidden) }
        inputBias = (0..<shape.unitCount).map { _ in AlignedBuffer(count: gates) }
        inputColumns = shape.oneHotInput ? (0..<shape.directions).map { _ in AlignedBuffer(count: shape.inputSize * gates) } : []
    }

    func refresh(from parameters: UnsafePointer<Float>) {
        let gates = shape.gateWidth, hidden = shape.hiddenSize
        for unit in 0..<shape.unitCount {
            let offsets = shape.offsets[unit]
            recurrentForward[unit].pack(parameters + offsets.weightHH, ldb: hidden, transposed: true)
            recurrentBackward[unit].pack(parameters + offsets.weightHH, ldb: hidden, transposed: false)
            let bias = inputBias[unit].baseAddress
            bias.update(from: parameters + offsets.biasIH, count: gates)
            if shape.cell.foldsRecurrentBias { VectorOps.add(parameters + offsets.biasHH, into: bias, count: gates) }
        }
        for (direction, columns) in inputColumns.enumerated() {
            let weights = parameters + shape.offsets[direction].weightIH
            let vocabulary = shape.inputSize
            for token in 0..<vocabulary {
                for gate in 0..<gates { columns.baseAddress[token * gates + gate] = weights[gate * vocabulary + token] }
            }
        }
    }
}
