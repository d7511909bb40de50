import RNNKernels

/// The shape of a stack of recurrent layers (one or two directions each) and
/// where its parameters sit in the model's flat buffer.
struct StackShape: Sendable {
    /// Where one unit's (layer and direction's) tensors start.
    struct Offsets: Sendable {
        let weightIH: Int
        let weightHH: Int
        /// Nil for cells without PyTorch's `bias_ih` / `bias_hh`.
        let biasIH: Int?
        let biasHH: Int?
        /// `weight_hr` where the stack has projections.
        let weightHR: Int?
        /// The cell's `kernelParameters`, in order, with their sizes; nil
        /// offsets for biases the model leaves out (the kernels read zeros).
        let kernelParameters: [(offset: Int?, count: Int)]
        /// The cell's `gradientSums`: each tensor, its size and its first column of `saved`.
        let gradientSums: [(offset: Int, count: Int, column: Int)]
    }

    let cell: CellKind
    /// What the cell needs, read once from its type (see `Cell`).
    let gateCount: Int
    let hasCellState: Bool
    let recurrentProjection: RecurrentProjection
    let needsWholeRows: Bool
    let savedWidth: Int
    let gatesWithOwnRecurrentGradient: Int
    /// Width of the first layer's input (the vocabulary for one-hot input).
    let inputSize: Int
    let hiddenSize: Int
    /// PyTorch's `proj_size`, 0 for none (see `ModelConfiguration.projectionSize`).
    let projectionSize: Int
    let layers: Int
    let directions: Int
    let oneHotInput: Bool
    /// Indexed by `layer * directions + direction`.
    let offsets: [Offsets]

    init(prefix: String, configuration c: ModelConfiguration, layout: ParameterLayout) {
        cell = c.cell
        let type = c.cell.cell
        gateCount = type.gateCount
        hasCellState = type.hasCellState
        recurrentProjection = type.recurrentProjection
        needsWholeRows = type.needsWholeRows
        savedWidth = type.savedWidth(hiddenSize: c.hiddenSize)
        gatesWithOwnRecurrentGradient = type.gatesWithOwnRecurrentGradient
        inputSize = c.input.rnnInputSize
        hiddenSize = c.hiddenSize
        projectionSize = c.projectionSize
        layers = c.layers
        directions = c.directions
        if case .oneHot = c.input { oneHotInput = true } else { oneHotInput = false }
        var offsets: [Offsets] = []
        for layer in 0..<c.layers {
            for direction in 0..<c.directions {
                let suffix = ParameterLayout.suffix(layer: layer, direction: direction)
                func entry(_ name: String) -> ParameterLayout.Entry? { layout.entry("\(prefix).\(name)\(suffix)") }
                let inputSize = layer == 0 ? c.input.rnnInputSize : c.stateSize * c.directions
                let tensors = type.tensors(
                    inputSize: inputSize, hiddenSize: c.hiddenSize, projectionSize: c.projectionSize)
                let sizes = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.shape.reduce(1, *)) })
                offsets.append(
                    Offsets(
                        weightIH: entry("weight_ih")!.offset, weightHH: entry("weight_hh")!.offset,
                        biasIH: entry("bias_ih")?.offset, biasHH: entry("bias_hh")?.offset,
                        weightHR: entry("weight_hr")?.offset,
                        kernelParameters: type.kernelParameters.map { (entry($0)?.offset, sizes[$0]!) },
                        gradientSums: type.gradientSums(hiddenSize: c.hiddenSize).map {
                            (entry($0.tensor)!.offset, entry($0.tensor)!.count, $0.column)
                        }))
            }
        }
        self.offsets = offsets
    }

    /// One unit's weights and biases in a buffer laid out like the model's
    /// parameters: the parameters themselves or their gradients.
    struct UnitTensors {
        /// `[gates, input]`.
        let weightIH: RowMajor<Float>
        /// `[gates, state]`.
        let weightHH: RowMajor<Float>
        let biasIH: UnsafeMutablePointer<Float>?
        let biasHH: UnsafeMutablePointer<Float>?
        /// `[projection, hidden]`, where the stack has projections.
        let weightHR: RowMajor<Float>?
    }

    /// Unit `unit`'s tensors in `buffer`.
    @inline(__always)
    func tensors(of unit: Int, in buffer: UnsafeMutablePointer<Float>) -> UnitTensors {
        let offsets = offsets[unit]
        return UnitTensors(
            weightIH: RowMajor(buffer + offsets.weightIH, width: layerInputSize(unit / directions)),
            weightHH: RowMajor(buffer + offsets.weightHH, width: stateSize),
            biasIH: offsets.biasIH.map { buffer + $0 }, biasHH: offsets.biasHH.map { buffer + $0 },
            weightHR: offsets.weightHR.map { RowMajor(buffer + $0, width: hiddenSize) })
    }

    /// Unit `unit`'s tensors in read-only `buffer`, only read through.
    @inline(__always)
    func tensors(of unit: Int, reading buffer: UnsafePointer<Float>) -> UnitTensors {
        tensors(of: unit, in: UnsafeMutablePointer(mutating: buffer))
    }

    /// Writes unit `unit`'s folded input bias into `bias` (`gateWidth`
    /// floats): `b_ih + b_hh` where the cell sums the recurrent projection
    /// into its gates, `b_ih` alone where it keeps it apart, zeros without biases.
    func foldInputBias(
        of unit: Int, from parameters: UnsafePointer<Float>, into bias: UnsafeMutablePointer<Float>, kernels: Kernels
    ) {
        let weights = tensors(of: unit, reading: parameters)
        if let biasIH = weights.biasIH {
            bias.update(from: biasIH, count: gateWidth)
        } else {
            bias.update(repeating: 0, count: gateWidth)
        }
        if let biasHH = weights.biasHH, recurrentProjection == .summedIntoGates {
            kernels.add(biasHH, into: bias, count: gateWidth)
        }
    }

    /// Copies unit `unit`'s `kernelParameters` from `parameters` one after
    /// another into `packed`, as the cell's kernels read them; zeros for a
    /// bias the model leaves out.
    func packKernelParameters(
        of unit: Int, from parameters: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>
    ) {
        var packed = packed
        for tensor in offsets[unit].kernelParameters {
            if let offset = tensor.offset {
                packed.update(from: parameters + offset, count: tensor.count)
            } else {
                packed.update(repeating: 0, count: tensor.count)
            }
            packed += tensor.count
        }
    }

    /// One-hot input: writes unit `unit`'s `W_ihᵀ` (vocabulary × gates) into
    /// `columns`, so that a token's input projection is one contiguous row.
    func transposeInputWeights(
        of unit: Int, from parameters: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>
    ) {
        let weights = tensors(of: unit, reading: parameters).weightIH
        let columns = RowMajor(columns, width: gateWidth)
        for token in 0..<inputSize {
            for gate in 0..<gateWidth { columns.row(token)[gate] = weights.row(gate)[token] }
        }
    }

    var gateWidth: Int { gateCount * hiddenSize }
    /// The gate columns whose recurrent-side gradient is the input side's.
    var sharedGradientColumns: Range<Int> { 0..<(gateCount - gatesWithOwnRecurrentGradient) * hiddenSize }
    /// The width of a hidden state and of each direction's output: the
    /// projection's where there is one.
    var stateSize: Int { projectionSize > 0 ? projectionSize : hiddenSize }
    var hasProjection: Bool { projectionSize > 0 }
    var outputWidth: Int { directions * stateSize }
    var unitCount: Int { layers * directions }
    func layerInputSize(_ layer: Int) -> Int { layer == 0 ? inputSize : outputWidth }
}
