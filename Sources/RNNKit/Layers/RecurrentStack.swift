import RNNKernels

/// What a stack's first layer reads, time-major.
enum StackInput {
    /// `[timeSteps, rows, inputSize]` floats.
    case dense(UnsafePointer<Float>)
    /// `[timeSteps, rows]` token ids, fed as one-hot vectors.
    case tokens(UnsafePointer<Int32>)
}

/// The buffers of one shard (up to `rowCapacity` sequences of up to
/// `timeCapacity` steps) for a stack of recurrent layers, and the driver that
/// walks layers, directions and time forward and back.
///
/// Layouts are time-major, `[time, row, feature]`, with the shard's actual row
/// count as the stride. Per layer and direction (a "unit"):
/// - `gates[t]`: the input projection for all steps (one GEMM), then the
///   activated gates, then in backward the gate gradients, in place;
/// - `states`: `T + 1` hidden states indexed by sequence position. The forward
///   direction starts at slot 0 and writes slot `t + 1`; the reverse direction
///   starts at slot `T` and writes slot `t`. So the states preceding steps
///   `0..<T` are one contiguous block for the weight-gradient GEMM.
final class StackWorkspace {
    let shape: StackShape
    let rowCapacity: Int
    let timeCapacity: Int

    private(set) var rows = 0
    private(set) var timeSteps = 0
    private var lengths: UnsafePointer<Int32>?

    /// Per layer: `[T, rows, directions * hidden]`.
    let outputs: [AlignedBuffer]
    private let gates: [AlignedBuffer]
    private let states: [AlignedBuffer]
    /// LSTM: cell states, laid out like `states`.
    private let cells: [AlignedBuffer]
    /// GRU: `W_hn h + b_hn` per step, `[T, rows, hidden]`.
    private let candidates: [AlignedBuffer]
    /// GRU: the recurrent projection of one step, then its gradient.
    private let recurrentScratch: AlignedBuffer?
    private let hiddenGradients: (AlignedBuffer, AlignedBuffer)
    private let cellGradient: AlignedBuffer?
    /// Gradients with respect to a layer's input, alternating between layers.
    private let inputGradients: (AlignedBuffer, AlignedBuffer)
    /// Filled by `gatherFinalStates`: every unit's final state, `[units, rows, hidden]`.
    let finalHiddenStates: AlignedBuffer
    let finalCellStates: AlignedBuffer?
    /// Written by `backward`: the gradient of the initial states, `[units, rows, hidden]`.
    let initialHiddenGradient: AlignedBuffer
    let initialCellGradient: AlignedBuffer?

    /// - Parameter forTraining: whether to allocate the buffers that only
    ///   backpropagation uses.
    init(shape: StackShape, rowCapacity: Int, timeCapacity: Int, forTraining: Bool) {
        self.shape = shape
        self.rowCapacity = rowCapacity
        self.timeCapacity = timeCapacity
        let hidden = shape.hiddenSize, units = shape.unitCount
        let perStep = rowCapacity * hidden
        outputs = (0..<shape.layers).map { _ in AlignedBuffer(count: timeCapacity * rowCapacity * shape.outputWidth) }
        gates = (0..<units).map { _ in AlignedBuffer(count: timeCapacity * rowCapacity * shape.gateWidth) }
        states = (0..<units).map { _ in AlignedBuffer(count: (timeCapacity + 1) * perStep) }
        cells = shape.cell.hasCellState ? (0..<units).map { _ in AlignedBuffer(count: (timeCapacity + 1) * perStep) } : []
        candidates = shape.cell == .gru ? (0..<units).map { _ in AlignedBuffer(count: timeCapacity * perStep) } : []
        recurrentScratch = shape.cell.separatesRecurrentProjection ? AlignedBuffer(count: rowCapacity * shape.gateWidth) : nil
        let gradientStep = forTraining ? perStep : 0
        hiddenGradients = (AlignedBuffer(count: gradientStep), AlignedBuffer(count: gradientStep))
        cellGradient = shape.cell.hasCellState ? AlignedBuffer(count: gradientStep) : nil
        let widest = forTraining ? max(shape.inputSize, shape.outputWidth) : 0
        inputGradients = (AlignedBuffer(count: timeCapacity * rowCapacity * widest),
                          AlignedBuffer(count: timeCapacity * rowCapacity * widest))
        finalHiddenStates = AlignedBuffer(count: units * perStep)
        finalCellStates = shape.cell.hasCellState ? AlignedBuffer(count: units * perStep) : nil
        initialHiddenGradient = AlignedBuffer(count: units * gradientStep)
        initialCellGradient = shape.cell.hasCellState ? AlignedBuffer(count: units * gradientStep) : nil
    }

    /// Floats this workspace holds, for memory estimates.
    static func floatCount(shape: StackShape, rows: Int, timeSteps: Int) -> Int {
        let hidden = shape.hiddenSize, units = shape.unitCount, perStep = rows * hidden
        var total = shape.layers * timeSteps * rows * shape.outputWidth
        total += units * (timeSteps * rows * shape.gateWidth + (timeSteps + 1) * perStep)
        if shape.cell.hasCellState { total += units * (timeSteps + 1) * perStep + perStep + units * perStep }
        if shape.cell == .gru { total += units * timeSteps * perStep + rows * shape.gateWidth }
        total += 2 * perStep + 2 * timeSteps * rows * max(shape.inputSize, shape.outputWidth)
        return total + units * perStep * (shape.cell.hasCellState ? 4 : 2)
    }

    /// The last layer's output, `[T, rows, directions * hidden]`.
    var output: UnsafeMutablePointer<Float> { outputs[shape.layers - 1].baseAddress }

    /// The final hidden state of a unit (`layer * directions + direction`), `[rows, hidden]`.
    func finalHidden(unit: Int) -> UnsafeMutablePointer<Float> {
        states[unit].baseAddress + finalSlot(unit: unit) * rows * shape.hiddenSize
    }

    func finalCell(unit: Int) -> UnsafeMutablePointer<Float>? {
        cells.isEmpty ? nil : cells[unit].baseAddress + finalSlot(unit: unit) * rows * shape.hiddenSize
    }

    /// Copies every unit's final hidden (and cell) state into `finalHiddenStates` (`finalCellStates`).
    func gatherFinalStates() {
        let perStep = rows * shape.hiddenSize
        for unit in 0..<shape.unitCount {
            (finalHiddenStates.baseAddress + unit * perStep).update(from: finalHidden(unit: unit), count: perStep)
            if let finalCellStates, let cell = finalCell(unit: unit) {
                (finalCellStates.baseAddress + unit * perStep).update(from: cell, count: perStep)
            }
        }
    }

    private func finalSlot(unit: Int) -> Int { unit % shape.directions == 0 ? timeSteps : 0 }
    private func initialSlot(unit: Int) -> Int { unit % shape.directions == 0 ? 0 : timeSteps }

    // MARK: Forward

    /// Runs every layer over the whole sequence.
    /// - Parameters:
    ///   - lengths: per-row valid lengths, or nil when all rows have `timeSteps`.
    ///   - initialHidden: `[units, rows, hidden]`, or nil for zeros; likewise `initialCell`.
    func forward(input: StackInput, rows: Int, timeSteps: Int, lengths: UnsafePointer<Int32>?,
                 initialHidden: UnsafePointer<Float>?, initialCell: UnsafePointer<Float>?,
                 parameters: UnsafePointer<Float>, prepared: PreparedStack, scratch: GEMMScratch) {
        precondition(rows <= rowCapacity && timeSteps <= timeCapacity, "shard exceeds its workspace")
        self.rows = rows
        self.timeSteps = timeSteps
        self.lengths = lengths
        let hidden = shape.hiddenSize, gateWidth = shape.gateWidth, perStep = rows * hidden
        for layer in 0..<shape.layers {
            let output = outputs[layer].baseAddress
            for direction in 0..<shape.directions {
                let unit = layer * shape.directions + direction
                let offsets = shape.offsets[unit]
                let gates = self.gates[unit].baseAddress
                projectInput(layer: layer, direction: direction, input: input, into: gates,
                             parameters: parameters, prepared: prepared, scratch: scratch)
                let states = self.states[unit].baseAddress
                let initial = initialSlot(unit: unit)
                setInitial(states + initial * perStep, from: initialHidden.map { $0 + unit * perStep }, count: perStep)
                let cells = self.cells.isEmpty ? nil : self.cells[unit].baseAddress
                if let cells { setInitial(cells + initial * perStep, from: initialCell.map { $0 + unit * perStep }, count: perStep) }
                let candidates = self.candidates.isEmpty ? nil : self.candidates[unit].baseAddress
                for stepIndex in 0..<timeSteps {
                    let (time, previous, current) = slots(step: stepIndex, direction: direction)
                    let stepGates = gates + time * rows * gateWidth
                    let previousHidden = states + previous * perStep
                    if let recurrent = recurrentScratch?.baseAddress {
                        GEMM.multiply(m: rows, a: previousHidden, lda: hidden, transposeA: false,
                                      packedB: prepared.recurrentForward[unit], columns: 0..<gateWidth,
                                      c: recurrent, ldc: gateWidth, accumulate: false, scratch: scratch)
                    } else {
                        GEMM.multiply(m: rows, a: previousHidden, lda: hidden, transposeA: false,
                                      packedB: prepared.recurrentForward[unit], columns: 0..<gateWidth,
                                      c: stepGates, ldc: gateWidth, accumulate: true, scratch: scratch)
                    }
                    let step = CellStep(rows: rows, hiddenSize: hidden, time: time, lengths: lengths, gates: stepGates,
                                        previousHidden: previousHidden, hidden: states + current * perStep,
                                        output: output + time * rows * shape.outputWidth + direction * hidden,
                                        outputStride: shape.outputWidth)
                    let buffers = CellStateBuffers(previousCell: cells.map { $0 + previous * perStep },
                                                   cell: cells.map { $0 + current * perStep },
                                                   candidate: candidates.map { $0 + time * perStep },
                                                   recurrent: recurrentScratch?.baseAddress)
                    shape.cell.forward(step, buffers, recurrentBias: parameters + offsets.biasHH)
                }
            }
        }
    }

    /// Sequence position and state slots of processing step `step`.
    @inline(__always)
    private func slots(step: Int, direction: Int) -> (time: Int, previous: Int, current: Int) {
        direction == 0 ? (step, step, step + 1) : (timeSteps - 1 - step, timeSteps - step, timeSteps - 1 - step)
    }

    private func setInitial(_ slot: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>?, count: Int) {
        if let source { slot.update(from: source, count: count) } else { slot.update(repeating: 0, count: count) }
    }

    /// A layer's float input: the stack's dense input or the layer below's output.
    private func denseInput(layer: Int, _ input: StackInput) -> UnsafePointer<Float> {
        if layer == 0, case .dense(let features) = input { return features }
        return UnsafePointer(outputs[layer - 1].baseAddress)
    }

    /// `gates[t] = x_t W_ihᵀ + bias` for every step at once.
    private func projectInput(layer: Int, direction: Int, input: StackInput, into gates: UnsafeMutablePointer<Float>,
                              parameters: UnsafePointer<Float>, prepared: PreparedStack, scratch: GEMMScratch) {
        let unit = layer * shape.directions + direction
        let gateWidth = shape.gateWidth, positions = timeSteps * rows
        let bias = prepared.inputBias[unit].baseAddress
        if layer == 0, case .tokens(let tokens) = input {
            let columns = prepared.inputColumns[direction].baseAddress
            for position in 0..<positions {
                let row = gates + position * gateWidth
                row.update(from: columns + Int(tokens[position]) * gateWidth, count: gateWidth)
                VectorOps.add(bias, into: row, count: gateWidth)
            }
            return
        }
        let source = denseInput(layer: layer, input)
        let width = shape.layerInputSize(layer)
        VectorOps.broadcastRows(bias, into: gates, rows: positions, columns: gateWidth, rowStride: gateWidth)
        GEMM.multiply(m: positions, n: gateWidth, k: width, a: source, lda: width, transposeA: false,
                      b: parameters + shape.offsets[unit].weightIH, ldb: width, transposeB: true,
                      c: gates, ldc: gateWidth, accumulate: true, scratch: scratch)
    }

    // MARK: Backward

    /// Backpropagation through time over every layer, after `forward`.
    ///
    /// Accumulates parameter gradients into `gradients` (the model's flat
    /// layout) and writes `initialHiddenGradient` / `initialCellGradient`.
    /// - Parameters:
    ///   - outputGradient: `[T, rows, directions * hidden]` for the last layer, or nil when its outputs feed nothing.
    ///   - finalHiddenGradient: `[units, rows, hidden]` on the final states, or nil; likewise `finalCellGradient`.
    ///   - wantsInputGradient: whether to return the gradient with respect to dense input (for an embedding).
    /// - Returns: `[T, rows, inputSize]` input gradient when asked for.
    @discardableResult
    func backward(outputGradient: UnsafePointer<Float>?, finalHiddenGradient: UnsafePointer<Float>?,
                  finalCellGradient: UnsafePointer<Float>?, input: StackInput, wantsInputGradient: Bool,
                  parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                  prepared: PreparedStack, scratch: GEMMScratch) -> UnsafePointer<Float>? {
        let hidden = shape.hiddenSize, gateWidth = shape.gateWidth, perStep = rows * hidden, positions = timeSteps * rows
        var layerOutputGradient = outputGradient
        var pingPong = false
        for layer in stride(from: shape.layers - 1, through: 0, by: -1) {
            let layerInputSize = shape.layerInputSize(layer)
            for direction in 0..<shape.directions {
                let unit = layer * shape.directions + direction
                let offsets = shape.offsets[unit]
                let gates = self.gates[unit].baseAddress
                let states = self.states[unit].baseAddress
                let cells = self.cells.isEmpty ? nil : self.cells[unit].baseAddress
                let candidates = self.candidates.isEmpty ? nil : self.candidates[unit].baseAddress
                var running = hiddenGradients.0.baseAddress, previous = hiddenGradients.1.baseAddress
                setInitial(running, from: finalHiddenGradient.map { $0 + unit * perStep }, count: perStep)
                if let cellGradient {
                    setInitial(cellGradient.baseAddress, from: finalCellGradient.map { $0 + unit * perStep }, count: perStep)
                }
                for stepIndex in stride(from: timeSteps - 1, through: 0, by: -1) {
                    let (time, previousSlot, currentSlot) = slots(step: stepIndex, direction: direction)
                    let step = CellStep(rows: rows, hiddenSize: hidden, time: time, lengths: lengths,
                                        gates: gates + time * rows * gateWidth,
                                        previousHidden: states + previousSlot * perStep,
                                        hidden: states + currentSlot * perStep,
                                        output: outputs[layer].baseAddress, outputStride: shape.outputWidth)
                    let gradient = CellGradientStep(
                        hidden: running,
                        output: layerOutputGradient.map { $0 + time * rows * shape.outputWidth + direction * hidden },
                        outputStride: shape.outputWidth, previousHidden: previous)
                    let buffers = CellStateBuffers(previousCell: cells.map { $0 + previousSlot * perStep },
                                                   cell: cells.map { $0 + currentSlot * perStep },
                                                   cellGradient: cellGradient?.baseAddress,
                                                   candidate: candidates.map { $0 + time * perStep },
                                                   recurrent: recurrentScratch?.baseAddress)
                    let recurrentGateGradient = shape.cell.backward(step, gradient, buffers)
                    GEMM.multiply(m: rows, a: recurrentGateGradient, lda: gateWidth, transposeA: false,
                                  packedB: prepared.recurrentBackward[unit], columns: 0..<hidden,
                                  c: previous, ldc: hidden, accumulate: true, scratch: scratch)
                    swap(&running, &previous)
                }
                (initialHiddenGradient.baseAddress + unit * perStep).update(from: running, count: perStep)
                if let cellGradient, let initialCellGradient {
                    (initialCellGradient.baseAddress + unit * perStep).update(from: cellGradient.baseAddress, count: perStep)
                }
                accumulateWeightGradients(layer: layer, direction: direction, input: input, gates: gates,
                                          states: states, candidates: candidates, gradients: gradients,
                                          offsets: offsets, scratch: scratch)
            }
            // The gradient with respect to this layer's input: Σ_directions dGates · W_ih.
            guard layer > 0 || (wantsInputGradient && !shape.oneHotInput) else { continue }
            let target = (pingPong ? inputGradients.1 : inputGradients.0).baseAddress
            for direction in 0..<shape.directions {
                let unit = layer * shape.directions + direction
                GEMM.multiply(m: positions, n: layerInputSize, k: gateWidth,
                              a: gates(unit), lda: gateWidth, transposeA: false,
                              b: parameters + shape.offsets[unit].weightIH, ldb: layerInputSize, transposeB: false,
                              c: target, ldc: layerInputSize, accumulate: direction > 0, scratch: scratch)
            }
            layerOutputGradient = UnsafePointer(target)
            pingPong.toggle()
        }
        return wantsInputGradient ? layerOutputGradient : nil
    }

    private func gates(_ unit: Int) -> UnsafeMutablePointer<Float> { gates[unit].baseAddress }

    /// `dW_ih += dGatesᵀ X`, `dW_hh += dGatesᵀ H_prev`, bias sums: one GEMM each over all steps.
    private func accumulateWeightGradients(layer: Int, direction: Int, input: StackInput, gates: UnsafeMutablePointer<Float>,
                                           states: UnsafeMutablePointer<Float>, candidates: UnsafeMutablePointer<Float>?,
                                           gradients: UnsafeMutablePointer<Float>, offsets: StackShape.Offsets,
                                           scratch: GEMMScratch) {
        let hidden = shape.hiddenSize, gateWidth = shape.gateWidth, positions = timeSteps * rows
        let width = shape.layerInputSize(layer)
        let weightIH = gradients + offsets.weightIH
        if layer == 0, case .tokens(let tokens) = input {
            // One-hot input: dW_ih[:, token] += dGates, in a fixed order.
            for position in 0..<positions {
                let token = Int(tokens[position]), row = gates + position * gateWidth
                for gate in 0..<gateWidth { weightIH[gate * width + token] += row[gate] }
            }
        } else {
            let source = denseInput(layer: layer, input)
            GEMM.multiply(m: gateWidth, n: width, k: positions, a: gates, lda: gateWidth, transposeA: true,
                          b: source, ldb: width, transposeB: false,
                          c: weightIH, ldc: width, accumulate: true, scratch: scratch)
        }
        // The states preceding steps 0..<T: slots 0..<T forward, 1...T reverse.
        let previousStates = states + (direction == 0 ? 0 : rows * hidden)
        let weightHH = gradients + offsets.weightHH
        VectorOps.accumulateColumnSums(gates, rows: positions, columns: gateWidth, rowStride: gateWidth,
                                       into: gradients + offsets.biasIH)
        if let candidates {
            // GRU: the recurrent side of gate n is dn * r, kept in `candidates`.
            let shared = 2 * hidden
            GEMM.multiply(m: shared, n: hidden, k: positions, a: gates, lda: gateWidth, transposeA: true,
                          b: previousStates, ldb: hidden, transposeB: false,
                          c: weightHH, ldc: hidden, accumulate: true, scratch: scratch)
            GEMM.multiply(m: hidden, n: hidden, k: positions, a: candidates, lda: hidden, transposeA: true,
                          b: previousStates, ldb: hidden, transposeB: false,
                          c: weightHH + shared * hidden, ldc: hidden, accumulate: true, scratch: scratch)
            VectorOps.accumulateColumnSums(gates, rows: positions, columns: shared, rowStride: gateWidth,
                                           into: gradients + offsets.biasHH)
            VectorOps.accumulateColumnSums(candidates, rows: positions, columns: hidden, rowStride: hidden,
                                           into: gradients + offsets.biasHH + shared)
        } else {
            GEMM.multiply(m: gateWidth, n: hidden, k: positions, a: gates, lda: gateWidth, transposeA: true,
                          b: previousStates, ldb: hidden, transposeB: false,
                          c: weightHH, ldc: hidden, accumulate: true, scratch: scratch)
            // b_ih and b_hh enter the same sum, so their gradients are equal.
            VectorOps.add(gradients + offsets.biasIH, into: gradients + offsets.biasHH, count: gateWidth)
        }
    }
}
