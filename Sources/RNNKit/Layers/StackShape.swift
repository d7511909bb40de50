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
    /// What the cell needs, read once from its type (see `Cell`).
    let gateCount: Int
    let hasCellState: Bool
    let recurrentProjection: RecurrentProjection
    let savedWidth: Int
    let gatesWithOwnRecurrentGradient: Int
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
        let type = c.cell.cell
        gateCount = type.gateCount
        hasCellState = type.hasCellState
        recurrentProjection = type.recurrentProjection
        savedWidth = type.savedWidth(hiddenSize: c.hiddenSize)
        gatesWithOwnRecurrentGradient = type.gatesWithOwnRecurrentGradient
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

    var gateWidth: Int { gateCount * hiddenSize }
    /// The gate columns whose recurrent-side gradient is the input side's.
    var sharedGradientColumns: Range<Int> { 0..<(gateCount - gatesWithOwnRecurrentGradient) * hiddenSize }
    var outputWidth: Int { directions * hiddenSize }
    var unitCount: Int { layers * directions }
    func layerInputSize(_ layer: Int) -> Int { layer == 0 ? inputSize : outputWidth }
}
