import RNNKernels

/// A one-direction stack of recurrent layers and its head, stepped one
/// position at a time for `rows` streams that carry their state from step to
/// step: text sampling and online prediction.
///
/// A step is a few GEMMs of the streams' vectors by packed weights (the
/// batch pass's multiply, with one register tile row per stream) and the
/// cells' own kernels. Where the kernels have a fused step for the cell and
/// hidden size (an LSTM of up to 256 units, with AVX-512), it replaces the
/// recurrent product and the cell's kernel. What is derived from the
/// weights is a `PreparedStack`, as in the batch passes, and the packed head;
/// both are made again whenever the model's parameters change, so an edited
/// model is seen at the next step.
/// There is no sharding and no allocation per step; the state stays in two
/// slots per layer that swap roles each step.
final class StreamingStack {
    let shape: StackShape
    let configuration: ModelConfiguration
    let rows: Int
    private let kernels: Kernels
    private let cellKernels: CellKernelPair
    /// What the steps read from the stack's weights: the packings, folded
    /// biases, the cell's packed tensors, a one-hot input's transposed `W_ih`.
    private let prepared: PreparedStack
    /// The head's `W_headᵀ`, packed with the rest; nil without a head.
    private let packedHead: PackedMatrix?
    private let scratch = GEMMScratch()
    /// Per layer: two hidden states `[rows, state]`, the latest in slot `latest`.
    private let hiddenStates: [AlignedBuffer]
    /// Per layer, for cells with a cell state: two `[rows, hidden]` slots.
    private let cellStates: [AlignedBuffer]
    /// With projections: the step's `m = o * tanh(c)`, `[rows, hidden]`.
    private let unprojected: AlignedBuffer?
    /// The step's gate pre-activations, then activations, `[rows, gates]`.
    private let gates: AlignedBuffer
    /// Cells that keep `W_hh h'` apart: it goes here, `[rows, gates]`.
    private let recurrent: AlignedBuffer?
    private let saved: AlignedBuffer?
    /// Embedding input: the step's looked-up rows, `[rows, dimension]`.
    private let embedded: AlignedBuffer?
    /// The head's output, `[rows, outputSize]`.
    let outputs: AlignedBuffer
    private let embeddingOffset: Int?
    private let headOffsets: (weight: Int, bias: Int)?
    private var latest = 0

    /// Whether a model can be stepped here: one direction and one stack.
    static func supports(_ c: ModelConfiguration) -> Bool { !c.bidirectional && c.topology != .encoderDecoder }

    init(model: Model, rows: Int) {
        let c = model.configuration
        precondition(Self.supports(c), "streaming needs a one-direction model without an encoder")
        configuration = c
        let shape = StackShape(prefix: "rnn", configuration: c, layout: model.layout)
        self.shape = shape
        self.rows = rows
        kernels = Kernels(model.kernelSelection)
        guard let cellKernels = kernels.cell(named: shape.cell.cell.kernelName, hiddenSize: shape.hiddenSize) else {
            preconditionFailure("the kernels have no cell named \(shape.cell.cell.kernelName)")
        }
        self.cellKernels = cellKernels
        let layers = shape.layers, hidden = shape.hiddenSize
        prepared = PreparedStack(shape: shape, kernels: kernels, use: .streaming)
        packedHead =
            c.head == .linear ? PackedMatrix(rows: shape.stateSize, columns: c.outputSize, kernels: kernels) : nil
        hiddenStates = (0..<layers).map { _ in AlignedBuffer(count: 2 * rows * shape.stateSize) }
        cellStates = shape.hasCellState ? (0..<layers).map { _ in AlignedBuffer(count: 2 * rows * hidden) } : []
        unprojected = shape.hasProjection ? AlignedBuffer(count: rows * hidden) : nil
        gates = AlignedBuffer(count: rows * shape.gateWidth)
        recurrent = shape.recurrentProjection == .apart ? AlignedBuffer(count: rows * shape.gateWidth) : nil
        saved = shape.savedWidth > 0 ? AlignedBuffer(count: rows * shape.savedWidth) : nil
        if case .embedding(_, let dimension) = c.input {
            embedded = AlignedBuffer(count: rows * dimension)
        } else {
            embedded = nil
        }
        outputs = AlignedBuffer(count: rows * c.outputSize)
        embeddingOffset = model.layout.entry("embedding.weight")?.offset
        headOffsets = c.head == .linear ? (model.layout.offset("head.weight"), model.layout.offset("head.bias")) : nil
        reset()
    }

    /// Zeros every stream's state.
    func reset() {
        for buffer in hiddenStates + cellStates { buffer.baseAddress.update(repeating: 0, count: buffer.count) }
    }

    /// Slot `index` (0 or 1) of a layer's two hidden (or cell) states, `[rows, width]`.
    private func slot(_ buffer: AlignedBuffer, width: Int, _ index: Int) -> RowMajor<Float> {
        RowMajor(buffer.baseAddress + index * rows * width, width: width)
    }

    /// The state after the last step, in `RecurrentState`'s layout.
    var state: RecurrentState {
        var state = RecurrentState.zeroState(for: configuration, count: rows)
        for layer in 0..<shape.layers {
            let perLayer = rows * shape.stateSize
            state.hidden.withUnsafeMutableBufferPointer {
                ($0.baseAddress! + layer * perLayer).update(
                    from: slot(hiddenStates[layer], width: shape.stateSize, latest).base, count: perLayer)
            }
            if !cellStates.isEmpty {
                let perCell = rows * shape.hiddenSize
                state.cell!.withUnsafeMutableBufferPointer {
                    ($0.baseAddress! + layer * perCell).update(
                        from: slot(cellStates[layer], width: shape.hiddenSize, latest).base, count: perCell)
                }
            }
        }
        return state
    }

    /// What the first layer reads at one step, one row per stream.
    enum Input {
        /// `[rows]` token ids.
        case tokens(UnsafePointer<Int32>)
        /// `[rows, features]`.
        case features(UnsafePointer<Float>)
    }

    /// Advances every stream by one step; the head's output lands in `outputs`.
    /// `version` is the model's `parameterVersion`.
    func step(_ input: Input, parameters: UnsafePointer<Float>, version: Int) {
        if prepared.prepare(from: parameters, version: version), let packedHead, let head = headOffsets {
            packedHead.pack(parameters + head.weight, ldb: shape.stateSize, transposed: true)
        }
        let previous = latest, next = 1 - latest
        let hidden = shape.hiddenSize, width = shape.stateSize, gateWidth = shape.gateWidth
        let gates = RowMajor(gates.baseAddress, width: gateWidth)
        for layer in 0..<shape.layers {
            let previousHidden = slot(hiddenStates[layer], width: width, previous)
            let newHidden = slot(hiddenStates[layer], width: width, next)
            let below = layer > 0 ? slot(hiddenStates[layer - 1], width: width, next) : nil
            addInputProjection(
                layer: layer, below.map { .features(UnsafePointer($0.base)) } ?? input, parameters: parameters)
            if prepared.fusedStep == nil {
                multiply(
                    prepared.recurrentForward[layer], by: previousHidden.base,
                    into: recurrent?.baseAddress ?? gates.base,
                    accumulate: recurrent == nil)
            }
            // Without projections the kernels write h as the state and as the output, in place.
            let kernelHidden = unprojected.map { RowMajor($0.baseAddress, width: hidden) } ?? newHidden
            var step = CellStep(
                rows: rows, hiddenSize: hidden, time: 0, lengths: nil, gates: gates.base,
                previousHidden: UnsafePointer(unprojected == nil ? previousHidden.base : kernelHidden.base),
                hidden: kernelHidden.base, output: kernelHidden.base, outputStride: hidden)
            step.keepsForBackward = false
            if !cellStates.isEmpty {
                step.previousCell = UnsafePointer(slot(cellStates[layer], width: hidden, previous).base)
                step.cell = slot(cellStates[layer], width: hidden, next).base
            }
            step.recurrent = recurrent?.baseAddress
            step.saved = saved?.baseAddress
            let cellTensors = prepared.cellParameters[layer]
            if cellTensors.count > 0 { step.cellParameters = UnsafePointer(cellTensors.baseAddress) }
            if let fusedStep = prepared.fusedStep {
                fusedStep.forward(step, weights: prepared.fusedRecurrent[layer].baseAddress)
            } else {
                cellKernels.forward(step)
            }
            if shape.hasProjection {
                multiply(
                    prepared.projectionForward[layer], by: kernelHidden.base, into: newHidden.base, accumulate: false)
            }
        }
        latest = next
        applyHead(parameters: parameters, top: slot(hiddenStates[shape.layers - 1], width: width, next))
    }

    /// `gates = b_ih (+ b_hh where the cell sums them) + W_ih x` for every
    /// stream of `input` (the layer below's state from the second layer on).
    private func addInputProjection(layer: Int, _ input: Input, parameters: UnsafePointer<Float>) {
        let gateWidth = shape.gateWidth, inputWidth = shape.layerInputSize(layer)
        let gates = RowMajor(gates.baseAddress, width: gateWidth)
        for row in 0..<rows { gates.row(row).update(from: prepared.inputBias[layer].baseAddress, count: gateWidth) }
        let vectors: UnsafePointer<Float>
        switch (input, embeddingOffset, embedded) {
        case (.features(let features), _, _):
            vectors = features
        case (.tokens(let tokens), let table?, let embedded?):
            let embedded = RowMajor(embedded.baseAddress, width: inputWidth)
            for row in 0..<rows {
                embedded.row(row).update(from: parameters + table + Int(tokens[row]) * inputWidth, count: inputWidth)
            }
            vectors = UnsafePointer(embedded.base)
        case (.tokens(let tokens), _, _):
            // One-hot: the token's column of W_ih, a row of its transpose.
            let columns = RowMajor(prepared.inputColumns[0].baseAddress, width: gateWidth)
            for row in 0..<rows {
                kernels.add(columns.row(Int(tokens[row])), into: gates.row(row), count: gateWidth)
            }
            return
        }
        multiply(prepared.inputForward[layer]!, by: vectors, into: gates.base, accumulate: true)
    }

    /// `result (+)= v · packed` for every stream's row of `v`: `packed` is
    /// `Wᵀ` (`[k, n]`), `v` `[rows, k]` and `result` `[rows, n]`.
    private func multiply(
        _ packed: PackedMatrix, by vectors: UnsafePointer<Float>, into result: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        kernels.multiply(
            m: rows, a: vectors, lda: packed.rows, transposeA: false, packedB: packed, columns: 0..<packed.columns,
            c: result, ldc: packed.columns, accumulate: accumulate, scratch: scratch)
    }

    /// `outputs = head(top)`: `b + W_head h`, or `h` itself without a head.
    private func applyHead(parameters: UnsafePointer<Float>, top: RowMajor<Float>) {
        let size = configuration.outputSize
        let outputs = RowMajor(outputs.baseAddress, width: size)
        guard let head = headOffsets else {
            outputs.base.update(from: top.base, count: rows * size)
            return
        }
        for row in 0..<rows { outputs.row(row).update(from: parameters + head.bias, count: size) }
        multiply(packedHead!, by: top.base, into: outputs.base, accumulate: true)
    }
}
