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
/// - `gates[t]`: the input projection (one GEMM for every step in training;
///   at inference a chunk of steps at a time, just before the recurrence
///   reaches them, in slots the next chunk reuses: `gateSlot`), then the
///   activated gates, then in backward the gate gradients, in place;
/// - `states`: `T + 1` hidden states indexed by sequence position. The forward
///   direction starts at slot 0 and writes slot `t + 1`; the reverse direction
///   starts at slot `T` and writes slot `t`. So the states preceding steps
///   `0..<T` are one contiguous block for the weight-gradient GEMM.
///
/// With projections (an LSTM's `proj_size`), the cell's kernels write
/// `m = o * tanh(c)` into `unprojected` (by slot, `hidden` wide), a GEMM per
/// step projects it, `h = m W_hrᵀ`, into `states` and the output (`proj_size`
/// wide), and backward goes the other way: `dm = dh W_hr`, with `dh` kept per
/// step for `W_hr`'s gradient.
final class StackWorkspace {
    let shape: StackShape
    let kernels: Kernels
    /// The cell's kernels for this hidden size, resolved once.
    private let cellKernels: CellKernelPair
    let rowCapacity: Int
    let timeCapacity: Int
    /// Whether forward keeps what backward reads: inference workspaces do not.
    private let keepsForBackward: Bool

    private(set) var rows = 0
    private(set) var timeSteps = 0
    private var lengths: UnsafePointer<Int32>?
    /// The training forward pass's dropout between layers, which its backward
    /// pass recomputes; nil at inference.
    private var dropout: ShardDropout?

    /// Per layer: `[T, rows, directions * hidden]`.
    private let outputBuffers: [AlignedBuffer]
    /// Per unit: `[T, rows, gateWidth]`.
    private let gateBuffers: [AlignedBuffer]
    /// Per unit: `[T + 1, rows, state]`, by state slot.
    private let stateBuffers: [AlignedBuffer]
    /// With projections, per unit: the cell's `m` before projection, `[T + 1, rows, hidden]` by slot.
    private let unprojectedBuffers: [AlignedBuffer]
    /// With projections, per unit: the gradient on each step's projected
    /// state, `[T, rows, state]` by position, for `W_hr`'s gradient.
    private let projectedGradientBuffers: [AlignedBuffer]
    /// With projections: one step's `dm` for the cell's backward kernel, and
    /// where that kernel writes the state gradient it passes on (which the
    /// driver takes from `dh` instead).
    private let projectionScratch: (AlignedBuffer, AlignedBuffer)
    /// Cells with a cell state: the cell states, laid out like the hidden states.
    private let cellBuffers: [AlignedBuffer]
    /// What the cell's kernels keep per step for backward, `[T, rows, savedWidth]`.
    private let savedBuffers: [AlignedBuffer]
    /// Cells that keep the recurrent projection apart: one step's
    /// projection, then its gradient.
    private let recurrentProjection: AlignedBuffer?
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
    /// The pass in progress and the region its team is splitting, which
    /// every member reads in `runPart`.
    private var pass: Pass?
    private var region = Region.idle

    /// - Parameter forTraining: whether to allocate the buffers that only
    ///   backpropagation uses.
    init(shape: StackShape, kernels: Kernels, rowCapacity: Int, timeCapacity: Int, forTraining: Bool) {
        self.shape = shape
        self.kernels = kernels
        guard let cellKernels = kernels.cell(named: shape.cell.cell.kernelName, hiddenSize: shape.hiddenSize) else {
            preconditionFailure("the kernels have no cell named \(shape.cell.cell.kernelName)")
        }
        self.cellKernels = cellKernels
        self.rowCapacity = rowCapacity
        self.timeCapacity = timeCapacity
        keepsForBackward = forTraining
        let buffers = Self.plan(
            shape: shape, rowCapacity: rowCapacity, timeCapacity: timeCapacity,
            forTraining: forTraining
        ).allocate()
        outputBuffers = buffers.floats(.outputs)
        gateBuffers = buffers.floats(.gates)
        stateBuffers = buffers.floats(.states)
        unprojectedBuffers = buffers.floats(.unprojected)
        projectedGradientBuffers = buffers.floats(.projectedGradients)
        projectionScratch = buffers.floatPair(.projectionScratch)
        cellBuffers = buffers.floats(.cells)
        savedBuffers = buffers.floats(.saved)
        recurrentProjection = buffers.optionalFloat(.recurrentProjection)
        hiddenGradients = buffers.floatPair(.hiddenGradients)
        cellGradient = buffers.optionalFloat(.cellGradient)
        inputGradients = buffers.floatPair(.inputGradients)
        finalHiddenStates = buffers.float(.finalHiddenStates)
        finalCellStates = buffers.optionalFloat(.finalCellStates)
        initialHiddenGradient = buffers.float(.initialHiddenGradient)
        initialCellGradient = buffers.optionalFloat(.initialCellGradient)
    }

    /// The buffers of `StackWorkspace`, one role per stored buffer property.
    enum Buffer: Hashable {
        case outputs, gates, states, unprojected, projectedGradients, projectionScratch, cells, saved,
            recurrentProjection, hiddenGradients, cellGradient,
            inputGradients, finalHiddenStates, finalCellStates, initialHiddenGradient, initialCellGradient
    }

    /// The buffers a workspace of this shape allocates: what `init` takes,
    /// and what the memory check counts before allocating. The cell decides
    /// the cell-state buffers, the width of `saved` and an apart recurrent
    /// projection.
    static func plan(shape: StackShape, rowCapacity rows: Int, timeCapacity steps: Int, forTraining: Bool)
        -> BufferPlan<Buffer>
    {
        let units = shape.unitCount, perStep = rows * shape.hiddenSize, positions = steps * rows
        let statePerStep = rows * shape.stateSize
        var plan = BufferPlan<Buffer>()
        plan.floats(.outputs, count: positions * shape.outputWidth, copies: shape.layers)
        // Inference keeps only one projection chunk's gates (see `gateSlot`).
        let gateFloats = positions * shape.gateWidth
        plan.floats(
            .gates, count: forTraining ? gateFloats : min(gateFloats, max(chunkFloats, rows * shape.gateWidth)),
            copies: units)
        plan.floats(.states, count: (steps + 1) * statePerStep, copies: units)
        if shape.hasProjection {
            plan.floats(.unprojected, count: (steps + 1) * perStep, copies: units)
            if forTraining { plan.floats(.projectedGradients, count: positions * shape.stateSize, copies: units) }
        }
        plan.floats(.projectionScratch, count: shape.hasProjection && forTraining ? perStep : 0, copies: 2)
        if shape.hasCellState { plan.floats(.cells, count: (steps + 1) * perStep, copies: units) }
        if shape.savedWidth > 0 { plan.floats(.saved, count: positions * shape.savedWidth, copies: units) }
        if shape.recurrentProjection == .apart { plan.floats(.recurrentProjection, count: rows * shape.gateWidth) }
        // Inference keeps the backward buffers, empty.
        let gradientStep = forTraining ? perStep : 0, stateGradientStep = forTraining ? statePerStep : 0
        plan.floats(.hiddenGradients, count: stateGradientStep, copies: 2)
        if shape.hasCellState { plan.floats(.cellGradient, count: gradientStep) }
        let widest = forTraining ? max(shape.inputSize, shape.outputWidth) : 0
        plan.floats(.inputGradients, count: positions * widest, copies: 2)
        plan.floats(.finalHiddenStates, count: units * statePerStep)
        if shape.hasCellState { plan.floats(.finalCellStates, count: units * perStep) }
        plan.floats(.initialHiddenGradient, count: units * stateGradientStep)
        if shape.hasCellState { plan.floats(.initialCellGradient, count: units * gradientStep) }
        return plan
    }

    // MARK: Addressing

    /// Layer `layer`'s output, `[T, rows, directions * state]`.
    private func output(of layer: Int) -> TimeMajor<Float> {
        TimeMajor(outputBuffers[layer].baseAddress, rows: rows, width: shape.outputWidth)
    }

    /// Where row `row` of layer `layer`'s output at sequence position `time`
    /// starts, and how far apart its rows are: the layer's buffer, or the
    /// pass's batch-first output for the last layer when it has one.
    @inline(__always)
    private func outputRows(of layer: Int, time: Int, row: Int) -> (start: UnsafeMutablePointer<Float>, rowStride: Int)
    {
        let width = shape.outputWidth
        if layer == shape.layers - 1, let batchFirst = pass?.batchFirstOutput {
            return (batchFirst + (row * timeSteps + time) * width, timeSteps * width)
        }
        return (output(of: layer).at(time, row: row), width)
    }

    private func gates(of unit: Int) -> TimeMajor<Float> {
        TimeMajor(gateBuffers[unit].baseAddress, rows: rows, width: shape.gateWidth)
    }

    /// A unit's hidden states by slot (see the type's description).
    private func states(of unit: Int) -> TimeMajor<Float> {
        TimeMajor(stateBuffers[unit].baseAddress, rows: rows, width: shape.stateSize)
    }

    /// With projections: a unit's `m = o * tanh(c)` by slot, laid out like the cell states.
    private func unprojected(of unit: Int) -> TimeMajor<Float> {
        TimeMajor(unprojectedBuffers[unit].baseAddress, rows: rows, width: shape.hiddenSize)
    }

    /// With projections: a unit's gradients on its projected states, by position.
    private func projectedGradients(of unit: Int) -> TimeMajor<Float> {
        TimeMajor(projectedGradientBuffers[unit].baseAddress, rows: rows, width: shape.stateSize)
    }

    /// A unit's cell states by slot, for cells that have them.
    private func cells(of unit: Int) -> TimeMajor<Float>? {
        cellBuffers.isEmpty ? nil : TimeMajor(cellBuffers[unit].baseAddress, rows: rows, width: shape.hiddenSize)
    }

    private func saved(of unit: Int) -> TimeMajor<Float>? {
        savedBuffers.isEmpty ? nil : TimeMajor(savedBuffers[unit].baseAddress, rows: rows, width: shape.savedWidth)
    }

    /// One hidden state (or its gradient) per unit, `[units, rows, state]`.
    private func perUnit(_ buffer: UnsafeMutablePointer<Float>) -> TimeMajor<Float> {
        TimeMajor(buffer, rows: rows, width: shape.stateSize)
    }

    /// One cell state (or its gradient) per unit, `[units, rows, hidden]`.
    private func perUnitCell(_ buffer: UnsafeMutablePointer<Float>) -> TimeMajor<Float> {
        TimeMajor(buffer, rows: rows, width: shape.hiddenSize)
    }

    /// The last layer's output, `[T, rows, directions * state]`.
    var output: TimeMajor<Float> { output(of: shape.layers - 1) }

    /// The final hidden state of a unit (`layer * directions + direction`), `[rows, state]`.
    func finalHidden(unit: Int) -> UnsafeMutablePointer<Float> {
        states(of: unit).at(finalSlot(unit: unit))
    }

    func finalCell(unit: Int) -> UnsafeMutablePointer<Float>? {
        cells(of: unit)?.at(finalSlot(unit: unit))
    }

    /// Copies every unit's final hidden (and cell) state into `finalHiddenStates` (`finalCellStates`).
    func gatherFinalStates() {
        for unit in 0..<shape.unitCount {
            perUnit(finalHiddenStates.baseAddress).at(unit).update(
                from: finalHidden(unit: unit), count: rows * shape.stateSize)
            if let finalCellStates, let cell = finalCell(unit: unit) {
                perUnitCell(finalCellStates.baseAddress).at(unit).update(from: cell, count: rows * shape.hiddenSize)
            }
        }
    }

    private func finalSlot(unit: Int) -> Int { unit % shape.directions == 0 ? timeSteps : 0 }
    private func initialSlot(unit: Int) -> Int { unit % shape.directions == 0 ? 0 : timeSteps }

    // MARK: Forward

    /// Runs every layer over the whole sequence.
    /// - Parameters:
    ///   - lengths: per-row valid lengths, or nil when all rows have `timeSteps`.
    ///   - initialHidden: `[units, rows, state]`, or nil for zeros; `initialCell` `[units, rows, hidden]`.
    ///   - dropout: the masks between layers of a training pass, nil at inference.
    ///   - team: the threads that run the shard; with more than one, each
    ///     timestep is split by hidden units and the other GEMMs by columns.
    ///   - batchFirstOutput: at inference, where the last layer writes its
    ///     output, `[rows, timeSteps, outputWidth]`, instead of into `output`:
    ///     the caller's result, so that no copy follows the pass.
    func forward(
        input: StackInput, rows: Int, timeSteps: Int, lengths: UnsafePointer<Int32>?,
        initialHidden: UnsafePointer<Float>?, initialCell: UnsafePointer<Float>?, dropout: ShardDropout?,
        parameters: UnsafePointer<Float>, prepared: PreparedStack, team: WorkerTeam,
        batchFirstOutput: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(rows <= rowCapacity && timeSteps <= timeCapacity, "shard exceeds its workspace")
        precondition(batchFirstOutput == nil || !keepsForBackward, "backward reads the output from its buffer")
        self.rows = rows
        self.timeSteps = timeSteps
        self.lengths = lengths
        self.dropout = dropout
        pass = Pass(parameters: parameters, prepared: prepared, gradients: nil, batchFirstOutput: batchFirstOutput)
        defer { pass = nil }
        let perStep = rows * shape.hiddenSize
        let initialHidden = initialHidden.map { TimeMajor(reading: $0, rows: rows, width: shape.stateSize) }
        let initialCell = initialCell.map { TimeMajor(reading: $0, rows: rows, width: shape.hiddenSize) }
        let chunk = projectionChunk
        for unit in 0..<shape.unitCount {
            let initial = initialSlot(unit: unit)
            setInitial(states(of: unit).at(initial), from: initialHidden?.at(unit), count: rows * shape.stateSize)
            if let cells = cells(of: unit) {
                setInitial(cells.at(initial), from: initialCell?.at(unit), count: perStep)
            }
            for step in 0..<timeSteps {
                if step % chunk == 0 {
                    let end = min(step + chunk, timeSteps)
                    let times = unit % shape.directions == 0 ? step..<end : timeSteps - end..<timeSteps - step
                    run(.inputProjection(unit: unit, input: input, times: times), over: shape.gateWidth, on: team)
                }
                if shape.needsWholeRows {
                    // The recurrent GEMM by hidden units, then the cell by rows.
                    run(.recurrentProjection(unit: unit, step: step), over: shape.hiddenSize, on: team)
                    run(.forwardCell(unit: unit, step: step), over: rows, granule: 1, on: team)
                } else {
                    run(.forwardStep(unit: unit, step: step), over: shape.hiddenSize, on: team)
                }
                if shape.hasProjection { run(.projectState(unit: unit, step: step), over: shape.stateSize, on: team) }
            }
            // The next layer reads this one's output through the mask.
            let layer = unit / shape.directions
            if dropout != nil, unit % shape.directions == shape.directions - 1, layer < shape.layers - 1 {
                run(.dropout(layer: layer, values: output(of: layer).base), over: timeSteps * rows, on: team)
            }
        }
    }

    /// One forward timestep for hidden units `units`: their columns of every
    /// gate block in the recurrent GEMM, then the cell's kernel on them; or
    /// the two in one fused kernel, where there is one.
    private func forwardStep(unit: Int, step stepIndex: Int, units: Range<Int>, scratch: GEMMScratch) {
        let step = cellStep(unit: unit, step: stepIndex, units: units)
        let prepared = pass!.prepared
        if let fused = prepared.fusedStep {
            return fused.forward(step, weights: prepared.fusedRecurrent[unit].baseAddress)
        }
        projectRecurrent(step, unit: unit, stepIndex: stepIndex, units: units, scratch: scratch)
        cellKernels.forward(step)
    }

    /// The recurrent GEMM of one timestep for hidden units `units`, onto the
    /// gates or into the apart projection.
    private func projectRecurrent(
        _ step: CellStep, unit: Int, stepIndex: Int, units: Range<Int>, scratch: GEMMScratch
    ) {
        let recurrent = step.recurrent
        let previous = states(of: unit).at(slots(step: stepIndex, direction: unit % shape.directions).previous)
        forEachGateBlock(of: units) { columns in
            kernels.multiply(
                m: rows, a: previous, lda: shape.stateSize, transposeA: false,
                packedB: pass!.prepared.recurrentForward[unit], columns: columns,
                c: recurrent ?? step.gates, ldc: shape.gateWidth, accumulate: recurrent == nil, scratch: scratch)
        }
    }

    /// With projections, one timestep's `h = m W_hrᵀ` for state columns
    /// `columns`, into the state and the output; a padded row keeps its
    /// previous state and outputs zeros, as the kernels do without projections.
    private func projectState(unit: Int, step stepIndex: Int, columns: Range<Int>, scratch: GEMMScratch) {
        let direction = unit % shape.directions, hidden = shape.hiddenSize, width = shape.stateSize
        let (time, previous, current) = slots(step: stepIndex, direction: direction)
        let states = states(of: unit)
        kernels.multiply(
            m: rows, a: unprojected(of: unit).at(current), lda: hidden, transposeA: false,
            packedB: pass!.prepared.projectionForward[unit], columns: columns,
            c: states.at(current), ldc: width, accumulate: false, scratch: scratch)
        for row in 0..<rows {
            let state = states.at(current, row: row, column: columns.lowerBound)
            let out =
                outputRows(of: unit / shape.directions, time: time, row: row).start + direction * width
                + columns.lowerBound
            if let lengths, time >= Int(lengths[row]) {
                state.update(from: states.at(previous, row: row, column: columns.lowerBound), count: columns.count)
                out.update(repeating: 0, count: columns.count)
            } else {
                out.update(from: state, count: columns.count)
            }
        }
    }

    /// The gate columns of hidden units `units`: one range per gate block
    /// (`[i | f | g | o]` for an LSTM), or the whole row at once when `units`
    /// covers every unit.
    private func forEachGateBlock(of units: Range<Int>, _ body: (Range<Int>) -> Void) {
        let hidden = shape.hiddenSize
        guard units.count < hidden else { return body(0..<shape.gateWidth) }
        for first in stride(from: 0, to: shape.gateWidth, by: hidden) {
            body(first + units.lowerBound..<first + units.upperBound)
        }
    }

    /// Processing step `stepIndex` of `unit` for hidden units `units` of the
    /// rows `rowRange` (all rows when nil), as the cell kernels see it, with
    /// the buffers the cell asked for.
    private func cellStep(unit: Int, step stepIndex: Int, units: Range<Int>, rows rowRange: Range<Int>? = nil)
        -> CellStep
    {
        let direction = unit % shape.directions, hidden = shape.hiddenSize
        let (time, previous, current) = slots(step: stepIndex, direction: direction)
        let first = rowRange?.lowerBound ?? 0
        // With projections the kernels' hidden state is `m`, which they also
        // write as their output; `projectState` makes the layer's.
        let states = shape.hasProjection ? unprojected(of: unit) : states(of: unit)
        let output =
            shape.hasProjection
            ? (start: states.at(current, row: first), rowStride: hidden)
            : outputRows(of: unit / shape.directions, time: time, row: first)
        var step = CellStep(
            rows: rowRange?.count ?? rows, hiddenSize: hidden, time: time, lengths: lengths.map { $0 + first },
            gates: gates(of: unit).at(gateSlot(time, direction: direction), row: first),
            previousHidden: states.at(previous, row: first), hidden: states.at(current, row: first),
            output: shape.hasProjection ? output.start : output.start + direction * hidden,
            outputStride: output.rowStride, units: units)
        if let cells = cells(of: unit) {
            step.previousCell = UnsafePointer(cells.at(previous, row: first))
            step.cell = cells.at(current, row: first)
        }
        step.saved = saved(of: unit)?.at(time, row: first)
        step.keepsForBackward = keepsForBackward
        step.recurrent = recurrentProjection.map { RowMajor($0.baseAddress, width: shape.gateWidth).row(first) }
        let cellParameters = pass!.prepared.cellParameters[unit]
        if cellParameters.count > 0 { step.cellParameters = UnsafePointer(cellParameters.baseAddress) }
        return step
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
    private func denseInput(layer: Int, _ input: StackInput) -> RowMajor<Float> {
        if layer == 0, case .dense(let features) = input { return RowMajor(reading: features, width: shape.inputSize) }
        return output(of: layer - 1).positions
    }

    /// About 256 KiB of gates: what one input projection writes at a time.
    private static let chunkFloats = 1 << 16

    /// Steps whose input projection runs at once, just before the first of
    /// them: at inference, few enough that their gates are still in L2 when
    /// the step reads them; in training, every step (one larger GEMM, and
    /// the gates stay in memory for backward anyway).
    private var projectionChunk: Int {
        keepsForBackward ? timeSteps : min(timeSteps, max(1, Self.chunkFloats / (rows * shape.gateWidth)))
    }

    /// Where the gates of sequence position `time` are kept. Training keeps
    /// every step's, for backward. Inference keeps one projection chunk's,
    /// whose slots the next chunk reuses while they are still in cache:
    /// projected all at once, a pass's gates went out to memory and back.
    /// A chunk's positions, in order, take consecutive slots in both directions.
    private func gateSlot(_ time: Int, direction: Int) -> Int {
        guard !keepsForBackward else { return time }
        let chunk = projectionChunk
        return direction == 0 ? time % chunk : chunk - 1 - (timeSteps - 1 - time) % chunk
    }

    /// `gates[t] = x_t W_ihᵀ + bias` for the steps `times`, gate columns `columns`.
    private func projectInput(
        unit: Int, input: StackInput, times: Range<Int>, columns: Range<Int>, scratch: GEMMScratch
    ) {
        let pass = pass!
        let layer = unit / shape.directions
        let gateWidth = shape.gateWidth, positions = times.lowerBound * rows..<times.upperBound * rows
        // Row i of `gates` is position `positions.lowerBound + i`.
        let slot = gateSlot(times.lowerBound, direction: unit % shape.directions)
        let gates = RowMajor(gates(of: unit).at(slot), width: gateWidth)
        let bias = pass.prepared.inputBias[unit].baseAddress + columns.lowerBound
        for row in 0..<positions.count {
            gates.row(row, column: columns.lowerBound).update(from: bias, count: columns.count)
        }
        guard let weights = pass.prepared.inputForward[unit] else {
            guard case .tokens(let tokens) = input else { preconditionFailure("a one-hot layer reads tokens") }
            let table = RowMajor(pass.prepared.inputColumns[unit % shape.directions].baseAddress, width: gateWidth)
            for (row, position) in positions.enumerated() {
                kernels.add(
                    table.row(Int(tokens[position]), column: columns.lowerBound),
                    into: gates.row(row, column: columns.lowerBound), count: columns.count)
            }
            return
        }
        let width = shape.layerInputSize(layer)
        kernels.multiply(
            m: positions.count, a: denseInput(layer: layer, input).row(positions.lowerBound), lda: width,
            transposeA: false, packedB: weights, columns: columns, c: gates.base, ldc: gateWidth,
            accumulate: true, scratch: scratch)
    }

    /// Unit `unit`'s weights and biases in the pass's parameters.
    private func weights(of unit: Int) -> StackShape.UnitTensors { shape.tensors(of: unit, reading: pass!.parameters) }

    /// Unit `unit`'s gradients in the pass's gradient buffer.
    private func gradients(of unit: Int) -> StackShape.UnitTensors { shape.tensors(of: unit, in: pass!.gradients!) }

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
    func backward(
        outputGradient: UnsafePointer<Float>?, finalHiddenGradient: UnsafePointer<Float>?,
        finalCellGradient: UnsafePointer<Float>?, input: StackInput, wantsInputGradient: Bool,
        parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
        prepared: PreparedStack, team: WorkerTeam
    ) -> UnsafePointer<Float>? {
        pass = Pass(parameters: parameters, prepared: prepared, gradients: gradients)
        defer { pass = nil }
        let hidden = shape.hiddenSize, perStep = rows * hidden, state = shape.stateSize
        let finalHiddenGradient = finalHiddenGradient.map { TimeMajor(reading: $0, rows: rows, width: state) }
        let finalCellGradient = finalCellGradient.map { TimeMajor(reading: $0, rows: rows, width: hidden) }
        var layerOutputGradient = outputGradient
        var pingPong = false
        for layer in stride(from: shape.layers - 1, through: 0, by: -1) {
            for direction in 0..<shape.directions {
                let unit = layer * shape.directions + direction
                var flow = GradientFlow(
                    running: RowMajor(hiddenGradients.0.baseAddress, width: state),
                    previous: RowMajor(hiddenGradients.1.baseAddress, width: state),
                    output: layerOutputGradient.map {
                        TimeMajor(reading: $0, rows: rows, width: shape.outputWidth)
                    })
                setInitial(flow.running.base, from: finalHiddenGradient?.at(unit), count: rows * state)
                if let cellGradient {
                    setInitial(cellGradient.baseAddress, from: finalCellGradient?.at(unit), count: perStep)
                }
                let chunk = weightGradientChunk
                for step in stride(from: timeSteps - 1, through: 0, by: -1) {
                    if shape.hasProjection {
                        run(.projectedGradient(unit: unit, step: step, flow), over: state, on: team)
                        run(.unprojectedGradient(unit: unit, step: step), over: hidden, on: team)
                    }
                    // The recurrent GEMM of a state column reads the gate gradients of every unit.
                    if shape.needsWholeRows {
                        run(.backwardCell(unit: unit, step: step, flow), over: rows, granule: 1, on: team)
                    } else {
                        run(.backwardCell(unit: unit, step: step, flow), over: hidden, on: team)
                    }
                    run(.backwardRecurrent(unit: unit, step: step, flow), over: state, on: team)
                    swap(&flow.running, &flow.previous)
                    if step % chunk == 0 {
                        let steps = step..<min(step + chunk, timeSteps)
                        run(.weightGradients(unit: unit, input: input, steps: steps), over: shape.gateWidth, on: team)
                        if shape.hasProjection {
                            run(.projectionGradient(unit: unit, steps: steps), over: state, on: team)
                        }
                    }
                }
                let sums = shape.offsets[unit].gradientSums.reduce(0) { $0 + $1.count }
                if sums > 0 { run(.gradientSums(unit: unit), over: sums, on: team) }
                perUnit(initialHiddenGradient.baseAddress).at(unit).update(
                    from: flow.running.base, count: rows * state)
                if let cellGradient, let initialCellGradient {
                    perUnitCell(initialCellGradient.baseAddress).at(unit).update(
                        from: cellGradient.baseAddress, count: perStep)
                }
            }
            // The gradient with respect to this layer's input: Σ_directions dGates · W_ih.
            guard layer > 0 || (wantsInputGradient && !shape.oneHotInput) else { continue }
            let target = (pingPong ? inputGradients.1 : inputGradients.0).baseAddress
            run(.inputGradient(layer: layer, target: target), over: timeSteps * rows, on: team)
            // Through the mask the layer below's output passed on its way here.
            if dropout != nil, layer > 0 {
                run(.dropout(layer: layer - 1, values: target), over: timeSteps * rows, on: team)
            }
            layerOutputGradient = UnsafePointer(target)
            pingPong.toggle()
        }
        return wantsInputGradient ? layerOutputGradient : nil
    }

    /// The hidden-state gradients around one backward timestep.
    private struct GradientFlow {
        /// Reaching this step's state from the next step, `[rows, state]`; read.
        var running: RowMajor<Float>
        /// For the previous step's state; written.
        var previous: RowMajor<Float>
        /// On the layer's output, `[T, rows, directions * state]`, or nil; read.
        var output: TimeMajor<Float>?
    }

    /// With projections, one backward timestep's gradient on the projected
    /// state, state columns `columns`: `dh`, from the next step and the
    /// output, kept for `dm` and `W_hr`'s gradient; a padded row's passes
    /// straight to the previous state, as the kernels do without projections.
    private func gatherProjectedGradient(unit: Int, step stepIndex: Int, flow: GradientFlow, columns: Range<Int>) {
        let direction = unit % shape.directions, width = shape.stateSize
        let time = slots(step: stepIndex, direction: direction).time
        let gradients = projectedGradients(of: unit)
        for row in 0..<rows {
            let running = flow.running.row(row, column: columns.lowerBound)
            let total = gradients.at(time, row: row, column: columns.lowerBound)
            let previous = flow.previous.row(row, column: columns.lowerBound)
            if let lengths, time >= Int(lengths[row]) {
                previous.update(from: running, count: columns.count)
                total.update(repeating: 0, count: columns.count)
                continue
            }
            total.update(from: running, count: columns.count)
            if let output = flow.output {
                kernels.add(
                    output.at(time, row: row, column: direction * width + columns.lowerBound), into: total,
                    count: columns.count)
            }
            previous.update(repeating: 0, count: columns.count)
        }
    }

    /// With projections, `dm = dh W_hr` of one backward timestep, hidden columns `columns`.
    private func unprojectGradient(unit: Int, step stepIndex: Int, columns: Range<Int>, scratch: GEMMScratch) {
        let hidden = shape.hiddenSize, width = shape.stateSize
        let time = slots(step: stepIndex, direction: unit % shape.directions).time
        kernels.multiply(
            m: rows, n: columns.count, k: width, a: projectedGradients(of: unit).at(time), lda: width,
            transposeA: false, b: weights(of: unit).weightHR!.base + columns.lowerBound, ldb: hidden,
            transposeB: false, c: projectionScratch.0.baseAddress + columns.lowerBound, ldc: hidden,
            accumulate: false, scratch: scratch)
    }

    /// With projections, `dW_hr += dhᵀ m` over the processing steps `steps`,
    /// rows `stateRows` of `W_hr`.
    private func accumulateProjectionGradient(
        unit: Int, steps: Range<Int>, stateRows: Range<Int>, scratch: GEMMScratch
    ) {
        let direction = unit % shape.directions, hidden = shape.hiddenSize, width = shape.stateSize
        let firstTime = direction == 0 ? steps.lowerBound : timeSteps - steps.upperBound
        // `m` of positions firstTime...: slots firstTime + 1... forward, firstTime... reverse.
        let unprojected = unprojected(of: unit).at((direction == 0 ? 1 : 0) + firstTime)
        kernels.multiply(
            m: stateRows.count, n: hidden, k: steps.count * rows,
            a: projectedGradients(of: unit).at(firstTime) + stateRows.lowerBound, lda: width, transposeA: true,
            b: unprojected, ldb: hidden, transposeB: false,
            c: gradients(of: unit).weightHR!.row(stateRows.lowerBound), ldc: hidden, accumulate: true,
            scratch: scratch)
    }

    /// One backward timestep's element-wise part: for hidden units `part`,
    /// or for the rows `part` of a cell that needs whole rows.
    private func backwardCell(unit: Int, step stepIndex: Int, flow: GradientFlow, part: Range<Int>) {
        let hidden = shape.hiddenSize
        let (units, rowRange) = shape.needsWholeRows ? (0..<hidden, part) : (part, 0..<rows)
        let step = cellStep(unit: unit, step: stepIndex, units: units, rows: rowRange)
        let first = rowRange.lowerBound, direction = unit % shape.directions
        let cell = cellGradient.map { RowMajor($0.baseAddress, width: hidden).row(first) }
        // With projections the kernel's state gradient is `dm`, and the one
        // it passes on is `gatherProjectedGradient`'s.
        let gradient =
            shape.hasProjection
            ? CellGradientStep(
                hidden: RowMajor(projectionScratch.0.baseAddress, width: hidden).row(first), output: nil,
                outputStride: hidden,
                previousHidden: RowMajor(projectionScratch.1.baseAddress, width: hidden).row(first),
                cell: cell)
            : CellGradientStep(
                hidden: flow.running.row(first),
                output: flow.output?.at(step.time, row: first, column: direction * hidden),
                outputStride: shape.outputWidth, previousHidden: flow.previous.row(first), cell: cell)
        cellKernels.backward(step, gradient)
    }

    /// The cell's tensors whose gradients are column sums of `saved` over
    /// every row and step, for the columns `part` of those tensors laid end
    /// to end.
    private func accumulateGradientSums(unit: Int, part: Range<Int>) {
        let gradients = pass!.gradients!, positions = timeSteps * rows
        guard let saved = saved(of: unit)?.positions else { return }
        var start = 0
        for sum in shape.offsets[unit].gradientSums {
            let columns = part.clamped(to: start..<start + sum.count)
            if !columns.isEmpty {
                let first = columns.lowerBound - start
                kernels.accumulateColumnSums(
                    saved.row(0, column: sum.column + first), rows: positions,
                    columns: columns.count, rowStride: shape.savedWidth,
                    into: gradients + sum.offset + first)
            }
            start += sum.count
        }
    }

    /// `dh_prev += dGates · W_hh` of one backward timestep, state columns `columns`.
    private func backwardRecurrent(
        unit: Int, step stepIndex: Int, flow: GradientFlow, columns: Range<Int>, scratch: GEMMScratch
    ) {
        // Where the cell keeps the recurrent projection apart, backward left
        // the recurrent-side gate gradients there; otherwise they are the gates'.
        let (time, _, _) = slots(step: stepIndex, direction: unit % shape.directions)
        let gateGradients = recurrentProjection?.baseAddress ?? gates(of: unit).at(time)
        kernels.multiply(
            m: rows, a: gateGradients, lda: shape.gateWidth, transposeA: false,
            packedB: pass!.prepared.recurrentBackward[unit], columns: columns,
            c: flow.previous.base, ldc: shape.stateSize, accumulate: true, scratch: scratch)
    }

    /// `dX = Σ_directions dGates · W_ih` for a layer, positions `positions`.
    private func propagateToInput(
        layer: Int, target: UnsafeMutablePointer<Float>, positions: Range<Int>, scratch: GEMMScratch
    ) {
        let width = shape.layerInputSize(layer), gateWidth = shape.gateWidth
        let target = RowMajor(target, width: width)
        for direction in 0..<shape.directions {
            let unit = layer * shape.directions + direction
            kernels.multiply(
                m: positions.count, n: width, k: gateWidth,
                a: gates(of: unit).position(positions.lowerBound), lda: gateWidth, transposeA: false,
                b: weights(of: unit).weightIH.base, ldb: width, transposeB: false,
                c: target.row(positions.lowerBound), ldc: width, accumulate: direction > 0, scratch: scratch)
        }
    }

    /// Processing steps per weight-gradient region: about three GEMM depth
    /// blocks of positions (768), so that the GEMMs run while the steps' gate
    /// gradients are still in cache, and a thread that joins the team late
    /// finds regions left to split rather than one long one.
    private var weightGradientChunk: Int { max(1, 3 * GEMMBlocking.depthBlock / rows) }

    /// `dW_ih += dGatesᵀ X`, `dW_hh += dGatesᵀ H_prev`, bias sums, over the
    /// processing steps `steps` for the gate rows `gateRows` of the weights.
    private func accumulateWeightGradients(
        unit: Int, input: StackInput, steps: Range<Int>, gateRows: Range<Int>,
        scratch: GEMMScratch
    ) {
        let layer = unit / shape.directions, direction = unit % shape.directions
        let state = shape.stateSize, gateWidth = shape.gateWidth
        // The reverse direction processes time backwards.
        let firstTime = direction == 0 ? steps.lowerBound : timeSteps - steps.upperBound
        let first = firstTime * rows, positions = steps.count * rows
        let width = shape.layerInputSize(layer)
        let gradients = gradients(of: unit)
        let gates = gates(of: unit).positions.rows(from: first)
        // The states preceding steps 0..<T: slots 0..<T forward, 1...T reverse.
        let previousStates = states(of: unit).at((direction == 0 ? 0 : 1) + firstTime)
        if let biasIH = gradients.biasIH {
            kernels.accumulateColumnSums(
                gates.row(0, column: gateRows.lowerBound), rows: positions, columns: gateRows.count,
                rowStride: gateWidth, into: biasIH + gateRows.lowerBound)
        }
        // The gates whose recurrent-side gradient is their gate gradient;
        // the cell keeps the others' in `saved` (a GRU's n: dn * r).
        let direct = gateRows.clamped(to: shape.sharedGradientColumns)
        // b_ih and b_hh enter the same sum in those gates, so their gradients
        // are equal: copied once the last region (processing step 0) has
        // been summed; `gradients` started at zero.
        if steps.lowerBound == 0, let biasIH = gradients.biasIH, let biasHH = gradients.biasHH {
            kernels.add(biasIH + direct.lowerBound, into: biasHH + direct.lowerBound, count: direct.count)
        }
        let weightIH = gradients.weightIH, directHH = gradients.weightHH.row(direct.lowerBound)
        if layer == 0, case .tokens(let tokens) = input {
            // One-hot input: dW_ih[:, token] += dGates, in a fixed order.
            for position in 0..<positions {
                let token = Int(tokens[first + position]), row = gates.row(position)
                for gate in gateRows { weightIH.row(gate)[token] += row[gate] }
            }
            kernels.multiply(
                m: direct.count, n: state, k: positions, a: gates.row(0, column: direct.lowerBound),
                lda: gateWidth, transposeA: true, b: previousStates, ldb: state, transposeB: false,
                c: directHH, ldc: state, accumulate: true, scratch: scratch)
        } else {
            // The direct rows' gate gradients serve both weight matrices, packed once.
            let input = denseInput(layer: layer, input).row(first)
            kernels.multiply(
                m: direct.count, k: positions, a: gates.row(0, column: direct.lowerBound), lda: gateWidth,
                transposeA: true,
                GEMMProduct(
                    n: width, b: input, ldb: width, transposeB: false,
                    c: weightIH.row(direct.lowerBound), ldc: width),
                GEMMProduct(n: state, b: previousStates, ldb: state, transposeB: false, c: directHH, ldc: state),
                accumulate: true, scratch: scratch)
            // The other gates' rows: their recurrent side follows below.
            let inputOnly = gateRows.clamped(to: direct.upperBound..<gateWidth)
            kernels.multiply(
                m: inputOnly.count, n: width, k: positions, a: gates.row(0, column: inputOnly.lowerBound),
                lda: gateWidth, transposeA: true, b: input, ldb: width, transposeB: false,
                c: weightIH.row(inputOnly.lowerBound), ldc: width, accumulate: true, scratch: scratch)
        }
        guard shape.gatesWithOwnRecurrentGradient > 0, let saved = saved(of: unit) else { return }
        let shared = shape.sharedGradientColumns.upperBound
        let ownRows = gateRows.clamped(to: shared..<gateWidth)
        let own = saved.position(first) + ownRows.lowerBound - shared
        kernels.multiply(
            m: ownRows.count, n: state, k: positions, a: own, lda: shape.savedWidth, transposeA: true,
            b: previousStates, ldb: state, transposeB: false,
            c: gradients.weightHH.row(ownRows.lowerBound), ldc: state, accumulate: true, scratch: scratch)
        if let biasHH = gradients.biasHH {
            kernels.accumulateColumnSums(
                own, rows: positions, columns: ownRows.count, rowStride: shape.savedWidth,
                into: biasHH + ownRows.lowerBound)
        }
    }

    /// Multiplies `values` (`[T, rows, directions * state]`: layer `layer`'s
    /// output, or its gradient) by the layer's dropout mask, positions `positions`.
    private func applyDropout(layer: Int, values: UnsafeMutablePointer<Float>, positions: Range<Int>) {
        guard let dropout else { return }
        let values = RowMajor(values, width: shape.outputWidth)
        for position in positions {
            dropout.masks.apply(
                to: values.row(position), width: shape.outputWidth, layer: layer,
                sequence: Int(dropout.sequences[position % rows]), time: position / rows, kernels: kernels)
        }
    }

    // MARK: Parallel regions

    /// What the parts of the running pass read: set by `forward` and `backward`.
    private struct Pass {
        var parameters: UnsafePointer<Float>
        var prepared: PreparedStack
        /// Backward only: the model-layout gradient buffer.
        var gradients: UnsafeMutablePointer<Float>?
        /// Forward only: where the last layer writes its output instead of
        /// its buffer, batch-first (see `forward`).
        var batchFirstOutput: UnsafeMutablePointer<Float>? = nil
    }

    /// A region of a pass that a team splits, and what it is split over.
    private enum Region {
        case idle
        /// A unit's input projection, by gate columns.
        case inputProjection(unit: Int, input: StackInput, times: Range<Int>)
        /// One forward timestep, by hidden units.
        case forwardStep(unit: Int, step: Int)
        /// A whole-row cell's forward timestep: its recurrent GEMM by hidden
        /// units, then its kernel by rows.
        case recurrentProjection(unit: Int, step: Int)
        case forwardCell(unit: Int, step: Int)
        /// One backward timestep's element-wise part, by hidden units (by rows for a whole-row cell).
        case backwardCell(unit: Int, step: Int, GradientFlow)
        /// One backward timestep's recurrent GEMM, by hidden columns.
        case backwardRecurrent(unit: Int, step: Int, GradientFlow)
        /// A unit's weight gradients over some processing steps, by gate rows.
        case weightGradients(unit: Int, input: StackInput, steps: Range<Int>)
        /// A unit's gradients that are sums of `saved`, by their columns.
        case gradientSums(unit: Int)
        /// With projections: one forward timestep's `h = m W_hrᵀ`, by state columns.
        case projectState(unit: Int, step: Int)
        /// With projections, one backward timestep: the state gradient `dh`
        /// by state columns, then `dm = dh W_hr` by hidden columns.
        case projectedGradient(unit: Int, step: Int, GradientFlow)
        case unprojectedGradient(unit: Int, step: Int)
        /// With projections: `W_hr`'s gradient over some processing steps, by its rows.
        case projectionGradient(unit: Int, steps: Range<Int>)
        /// The gradient on a layer's input, by positions.
        case inputGradient(layer: Int, target: UnsafeMutablePointer<Float>)
        /// A layer's output (or its gradient) through its dropout mask, by positions.
        case dropout(layer: Int, values: UnsafeMutablePointer<Float>)
    }

    /// Parts are whole multiples of 16: GEMM column panels and float vectors.
    private static let partGranule = 16

    private func run(_ region: Region, over count: Int, granule: Int = partGranule, on team: WorkerTeam) {
        self.region = region
        team.forEachPart(of: count, granule: granule, self)
        self.region = .idle
    }
}

extension StackWorkspace: PartJob {
    func runPart(_ part: Range<Int>, scratch: GEMMScratch) {
        switch region {
        case .idle: break
        case .inputProjection(let unit, let input, let times):
            projectInput(unit: unit, input: input, times: times, columns: part, scratch: scratch)
        case .forwardStep(let unit, let step): forwardStep(unit: unit, step: step, units: part, scratch: scratch)
        case .recurrentProjection(let unit, let step):
            projectRecurrent(
                cellStep(unit: unit, step: step, units: part), unit: unit, stepIndex: step, units: part,
                scratch: scratch)
        case .forwardCell(let unit, let step):
            cellKernels.forward(cellStep(unit: unit, step: step, units: 0..<shape.hiddenSize, rows: part))
        case .backwardCell(let unit, let step, let flow): backwardCell(unit: unit, step: step, flow: flow, part: part)
        case .gradientSums(let unit): accumulateGradientSums(unit: unit, part: part)
        case .projectState(let unit, let step): projectState(unit: unit, step: step, columns: part, scratch: scratch)
        case .projectedGradient(let unit, let step, let flow):
            gatherProjectedGradient(unit: unit, step: step, flow: flow, columns: part)
        case .unprojectedGradient(let unit, let step):
            unprojectGradient(unit: unit, step: step, columns: part, scratch: scratch)
        case .projectionGradient(let unit, let steps):
            accumulateProjectionGradient(unit: unit, steps: steps, stateRows: part, scratch: scratch)
        case .backwardRecurrent(let unit, let step, let flow):
            backwardRecurrent(unit: unit, step: step, flow: flow, columns: part, scratch: scratch)
        case .weightGradients(let unit, let input, let steps):
            accumulateWeightGradients(unit: unit, input: input, steps: steps, gateRows: part, scratch: scratch)
        case .inputGradient(let layer, let target):
            propagateToInput(layer: layer, target: target, positions: part, scratch: scratch)
        case .dropout(let layer, let values): applyDropout(layer: layer, values: values, positions: part)
        }
    }
}
