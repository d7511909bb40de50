import RNNKernels

/// The weights every shard of a pass reads, prepared once per parameter version.
final class PreparedNetwork: @unchecked Sendable {
    let encoder: PreparedStack?
    let stack: PreparedStack

    init(model: Model, kernels: Kernels, use: PreparedStack.Use) {
        let c = model.configuration
        func prepared(_ prefix: String) -> PreparedStack {
            PreparedStack(
                shape: StackShape(prefix: prefix, configuration: c, layout: model.layout), kernels: kernels, use: use)
        }
        encoder = c.topology == .encoderDecoder ? prepared("encoder") : nil
        stack = prepared("rnn")
    }

    func prepare(from parameters: UnsafePointer<Float>, version: Int) {
        encoder?.prepare(from: parameters, version: version)
        stack.prepare(from: parameters, version: version)
    }
}

/// One shard of a mini-batch: its rows' inputs and targets in time-major
/// order, every activation the backward pass needs, and its own gradient
/// buffer. Allocated once per shape; a step only overwrites it.
///
/// Data flows embedding -> (encoder ->) recurrent stack -> head -> loss, and
/// back the same way. Without a head (`OutputHead.identity`) the stack's
/// output is the model's output: the loss reads it and writes its gradient
/// in place (many-to-one: in the last outputs' buffer).
final class ShardWorkspace {
    let configuration: ModelConfiguration
    let kernels: Kernels
    let rowCapacity: Int
    let timeCapacity: Int
    let decoderTimeCapacity: Int

    private(set) var rows = 0
    private(set) var timeSteps = 0
    private(set) var decoderTimeSteps = 0
    private var hasLengths = false

    private let encoder: StackWorkspace?
    private let stack: StackWorkspace
    /// `[T, rows, I]` dense inputs (for one-to-many, the fed-back sequence).
    private let inputs: AlignedBuffer
    private let tokens: UnsafeMutablePointer<Int32>
    private let lengths: UnsafeMutablePointer<Int32>
    /// The batch row each shard row came from: what keys its dropout masks.
    private let sequences: UnsafeMutablePointer<Int32>
    /// `[T, rows, E]` looked-up embeddings.
    private let embedded: AlignedBuffer?
    private let decoderInputs: AlignedBuffer?
    /// Many-to-one: the last valid output of each row, `[rows, D]`.
    private let features: AlignedBuffer?
    /// `[positions, O]` head outputs, overwritten by their gradients: in
    /// `ownLogits`, or the stack's output when the outputs are in place.
    let logits: RowMajor<Float>
    private let ownLogits: AlignedBuffer
    /// A per-step model without a head: `logits` is the stack's output.
    private let outputsInPlace: Bool
    private let targetValues: AlignedBuffer
    private let targetClasses: UnsafeMutablePointer<Int32>
    /// Whether each output position counts in the loss.
    private let counted: UnsafeMutablePointer<Bool>
    /// `[T, rows, D]` gradient on the top layer's output (`logits` when the
    /// outputs are in place).
    private let outputGradient: UnsafeMutablePointer<Float>
    private let ownOutputGradient: AlignedBuffer
    /// Many-to-one: gradient on `features`.
    private let featureGradient: AlignedBuffer?
    /// Parameter gradients in the model's flat layout.
    let gradients: AlignedBuffer
    /// `[units, rows, hidden]` initial states when the batch brings them.
    private let initialHidden: AlignedBuffer
    private let initialCell: AlignedBuffer?
    private var hasInitialState = false
    /// The head region its team is splitting, read by every member in `runPart`.
    private var region = Region.idle
    /// Where the linear head's parameters live; nil without a head.
    private let headOffsets: (weight: Int, bias: Int)?
    /// The head's `[O, D]` weight and its bias in `buffer` (the parameters
    /// or their gradients); nil without a head.
    private func head(in buffer: UnsafeMutablePointer<Float>) -> (
        weight: RowMajor<Float>, bias: UnsafeMutablePointer<Float>
    )? {
        headOffsets.map { (RowMajor(buffer + $0.weight, width: stack.shape.outputWidth), buffer + $0.bias) }
    }

    private func head(reading buffer: UnsafePointer<Float>) -> (
        weight: RowMajor<Float>, bias: UnsafeMutablePointer<Float>
    )? {
        head(in: UnsafeMutablePointer(mutating: buffer))
    }
    private let embeddingOffset: Int

    init(
        model: Model, kernels: Kernels, rowCapacity: Int, timeCapacity: Int, decoderTimeCapacity: Int,
        withGradients: Bool
    ) {
        let c = model.configuration
        configuration = c
        self.kernels = kernels
        self.rowCapacity = rowCapacity
        self.timeCapacity = timeCapacity
        self.decoderTimeCapacity = decoderTimeCapacity
        let stacks = Self.stacks(of: model, timeCapacity: timeCapacity, decoderTimeCapacity: decoderTimeCapacity)
        encoder = stacks.encoder.map {
            StackWorkspace(
                shape: $0, kernels: kernels, rowCapacity: rowCapacity, timeCapacity: timeCapacity,
                forTraining: withGradients)
        }
        stack = StackWorkspace(
            shape: stacks.stack, kernels: kernels, rowCapacity: rowCapacity, timeCapacity: stacks.stackSteps,
            forTraining: withGradients)
        let buffers = Self.plan(
            model: model, rowCapacity: rowCapacity, timeCapacity: timeCapacity,
            decoderTimeCapacity: decoderTimeCapacity, withGradients: withGradients
        ).allocate()
        inputs = buffers.float(.inputs)
        tokens = buffers.int32s(.tokens)
        lengths = buffers.int32s(.lengths)
        sequences = buffers.int32s(.sequences)
        embedded = buffers.optionalFloat(.embedded)
        decoderInputs = buffers.optionalFloat(.decoderInputs)
        features = buffers.optionalFloat(.features)
        featureGradient = buffers.optionalFloat(.featureGradient)
        outputsInPlace = Self.outputsInPlace(c)
        ownLogits = buffers.float(.ownLogits)
        logits = RowMajor(outputsInPlace ? stack.output.base : ownLogits.baseAddress, width: c.outputSize)
        targetValues = buffers.float(.targetValues)
        targetClasses = buffers.int32s(.targetClasses)
        counted = buffers.bools(.counted)
        ownOutputGradient = buffers.float(.ownOutputGradient)
        outputGradient = outputsInPlace ? logits.base : ownOutputGradient.baseAddress
        gradients = buffers.float(.gradients)
        initialHidden = buffers.float(.initialHidden)
        initialCell = buffers.optionalFloat(.initialCell)
        headOffsets = c.head == .linear ? (model.layout.offset("head.weight"), model.layout.offset("head.bias")) : nil
        embeddingOffset = model.layout.entry("embedding.weight")?.offset ?? 0
    }

    /// The buffers of `ShardWorkspace`, one role per stored buffer or array.
    enum Buffer: Hashable {
        case inputs, tokens, lengths, sequences, embedded, decoderInputs, features, featureGradient, ownLogits,
            targetValues, targetClasses, counted, ownOutputGradient, gradients, initialHidden, initialCell
    }

    /// The buffers a workspace of this shape allocates, its stacks'
    /// included: what `init` takes, and what the memory check counts
    /// before allocating.
    static func plan(
        model: Model, rowCapacity rows: Int, timeCapacity steps: Int, decoderTimeCapacity decoderSteps: Int,
        withGradients: Bool
    ) -> BufferPlan<Buffer> {
        let c = model.configuration
        let stacks = Self.stacks(of: model, timeCapacity: steps, decoderTimeCapacity: decoderSteps)
        var plan = BufferPlan<Buffer>()
        if let encoder = stacks.encoder {
            plan.include(
                StackWorkspace.plan(shape: encoder, rowCapacity: rows, timeCapacity: steps, forTraining: withGradients))
        }
        plan.include(
            StackWorkspace.plan(
                shape: stacks.stack, rowCapacity: rows, timeCapacity: stacks.stackSteps,
                forTraining: withGradients))
        let inputWidth = c.input.rnnInputSize, width = stacks.stack.outputWidth
        plan.floats(.inputs, count: c.input.readsTokens ? 0 : steps * rows * inputWidth)
        plan.int32s(.tokens, count: steps * rows)
        plan.int32s(.lengths, count: rows)
        plan.int32s(.sequences, count: rows)
        if case .embedding = c.input { plan.floats(.embedded, count: steps * rows * inputWidth) }
        if c.topology == .encoderDecoder { plan.floats(.decoderInputs, count: decoderSteps * rows * inputWidth) }
        if !c.topology.outputsPerStep {
            plan.floats(.features, count: rows * width)
            if withGradients { plan.floats(.featureGradient, count: rows * width) }
        }
        let positions = c.topology.outputsPerStep ? max(steps, decoderSteps) * rows : rows
        let inPlace = Self.outputsInPlace(c)
        plan.floats(.ownLogits, count: inPlace ? 0 : positions * c.outputSize)
        plan.floats(.targetValues, count: positions * c.outputSize)
        plan.int32s(.targetClasses, count: positions)
        plan.bools(.counted, count: positions)
        plan.floats(.ownOutputGradient, count: withGradients && !inPlace ? stacks.stackSteps * rows * width : 0)
        plan.floats(.gradients, count: withGradients ? model.layout.totalCount : 0)
        let states = stacks.stack.unitCount * rows
        plan.floats(.initialHidden, count: states * stacks.stack.stateSize)
        if stacks.stack.hasCellState { plan.floats(.initialCell, count: states * stacks.stack.hiddenSize) }
        return plan
    }

    /// Bytes a workspace of this shape allocates (its plan's total), to
    /// check a shape against memory before allocating it.
    static func byteCount(
        model: Model, rowCapacity rows: Int, timeCapacity steps: Int, decoderTimeCapacity decoderSteps: Int,
        withGradients: Bool
    ) -> Int {
        plan(
            model: model, rowCapacity: rows, timeCapacity: steps, decoderTimeCapacity: decoderSteps,
            withGradients: withGradients
        ).byteCount
    }

    /// The model's recurrent stacks: an encoder's over the input steps, and
    /// the main stack over the decoder's steps (encoder-decoder) or the input's.
    private static func stacks(of model: Model, timeCapacity: Int, decoderTimeCapacity: Int)
        -> (encoder: StackShape?, stack: StackShape, stackSteps: Int)
    {
        let c = model.configuration, encoderDecoder = c.topology == .encoderDecoder
        return (
            encoderDecoder ? StackShape(prefix: "encoder", configuration: c, layout: model.layout) : nil,
            StackShape(prefix: "rnn", configuration: c, layout: model.layout),
            encoderDecoder ? decoderTimeCapacity : timeCapacity
        )
    }

    /// A per-step model without a head: its outputs are the stack's, and
    /// their gradients are written there.
    private static func outputsInPlace(_ c: ModelConfiguration) -> Bool {
        c.head == .identity && c.topology.outputsPerStep
    }

    deinit {
        tokens.deallocate()
        lengths.deallocate()
        sequences.deallocate()
        targetClasses.deallocate()
        counted.deallocate()
    }

    /// Output positions of the loaded shard: `[T', rows]` per step or `[rows]`.
    var positions: Int {
        guard configuration.topology.outputsPerStep else { return rows }
        return (configuration.topology == .encoderDecoder ? decoderTimeSteps : timeSteps) * rows
    }

    // MARK: Loading

    /// Copies the batch rows `batchRows` (and their rows of `initialState`,
    /// which holds the mini-batch's rows in order, this shard's from
    /// `firstRow`) into time-major shard buffers; the targets only when
    /// `scoring` or when they are fed back as inputs (one-to-many).
    func load(
        _ batch: SequenceBatch, batchRows: UnsafeBufferPointer<Int>, firstRow: Int, initialState: RecurrentState?,
        scoring: Bool
    ) {
        let c = configuration
        rows = batchRows.count
        timeSteps = batch.timeSteps
        decoderTimeSteps = batch.decoderTimeSteps
        hasLengths = batch.lengths != nil
        let width = c.input.rnnInputSize
        let vectorInput = c.topology == .oneToOne || c.topology == .oneToMany
        for (row, source) in batchRows.enumerated() {
            lengths[row] = Int32(batch.length(of: source))
            sequences[row] = Int32(truncatingIfNeeded: source)
        }
        switch batch.inputs {
        case .tokens(let values):
            let tokens = TimeMajor(tokens, rows: rows, width: 1)
            values.withUnsafeBufferPointer { values in
                for (row, source) in batchRows.enumerated() {
                    let length = Int(lengths[row])
                    for time in 0..<timeSteps {
                        // Padding may hold any value: read it as token 0.
                        tokens.at(time, row: row).pointee = time < length ? values[source * timeSteps + time] : 0
                    }
                }
            }
        case .features(let values):
            gather(values, steps: vectorInput ? 1 : timeSteps, width: width, batchRows: batchRows, into: inputs)
        }
        if let decoderInputs, let values = batch.decoderInputs {
            gather(values, steps: decoderTimeSteps, width: width, batchRows: batchRows, into: decoderInputs)
        }
        if scoring || c.topology == .oneToMany { loadTargets(batch, batchRows: batchRows) }
        hasInitialState = initialState != nil
        if let initialState { loadState(initialState, firstRow: firstRow) }
    }

    /// Copies the batch rows `batchRows` of `values` (`[count, steps, width]`,
    /// sequence-major) into `buffer`, time-major.
    private func gather(
        _ values: [Float], steps: Int, width: Int, batchRows: UnsafeBufferPointer<Int>,
        into buffer: AlignedBuffer
    ) {
        let target = TimeMajor(buffer.baseAddress, rows: rows, width: width)
        values.withUnsafeBufferPointer { values in
            let sequences = RowMajor(reading: values.baseAddress!, width: steps * width)
            for (row, source) in batchRows.enumerated() {
                for time in 0..<steps {
                    target.at(time, row: row).update(from: sequences.row(source, column: time * width), count: width)
                }
            }
        }
    }

    /// Copies rows `firstRow..<firstRow + rows` of every unit of `state`.
    private func loadState(_ state: RecurrentState, firstRow: Int) {
        func copy(_ source: [Float], width: Int, into destination: AlignedBuffer) {
            let destination = TimeMajor(destination.baseAddress, rows: rows, width: width)
            source.withUnsafeBufferPointer { source in
                let source = TimeMajor(reading: source.baseAddress!, rows: state.count, width: width)
                for unit in 0..<state.units {
                    destination.at(unit).update(from: source.at(unit, row: firstRow), count: rows * width)
                }
            }
        }
        copy(state.hidden, width: configuration.stateSize, into: initialHidden)
        if let cell = state.cell, let initialCell { copy(cell, width: configuration.hiddenSize, into: initialCell) }
    }

    /// Writes this shard's final states into batch-wide `[units, count, hidden]`
    /// arrays at rows `firstRow...`.
    func copyFinalState(
        hidden: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>?, firstRow: Int, count: Int
    ) {
        let state = stack.shape.stateSize, size = stack.shape.hiddenSize
        let hidden = TimeMajor(hidden, rows: count, width: state),
            cell = cell.map { TimeMajor($0, rows: count, width: size) }
        for unit in 0..<stack.shape.unitCount {
            hidden.at(unit, row: firstRow).update(from: stack.finalHidden(unit: unit), count: rows * state)
            if let cell, let final = stack.finalCell(unit: unit) {
                cell.at(unit, row: firstRow).update(from: final, count: rows * size)
            }
        }
    }

    private func loadTargets(_ batch: SequenceBatch, batchRows: UnsafeBufferPointer<Int>) {
        let c = configuration, outputs = c.outputSize
        let outputSteps = c.topology == .encoderDecoder ? decoderTimeSteps : timeSteps
        let targetValues = TimeMajor(targetValues.baseAddress, rows: rows, width: outputs)
        // Position p of the shard is (step, row) = (p / rows, p % rows) per step, or row p.
        for (row, source) in batchRows.enumerated() {
            let steps = c.topology.outputsPerStep ? outputSteps : 1
            let valid = c.topology == .manyToMany ? Int(lengths[row]) : steps
            for step in 0..<steps {
                let position = c.topology.outputsPerStep ? step * rows + row : row
                let origin = source * steps + step
                counted[position] = step < valid
                switch batch.targets {
                case .values(let values)?:
                    values.withUnsafeBufferPointer {
                        let values = RowMajor(reading: $0.baseAddress!, width: outputs)
                        targetValues.position(position).update(from: values.row(origin), count: outputs)
                    }
                case .classes(let labels)?:
                    targetClasses[position] = step < valid ? labels[origin] : 0
                case nil:
                    break
                }
            }
        }
        // One-to-many feeds the previous target in at each later step (teacher forcing).
        if c.topology == .oneToMany, case .values = batch.targets {
            let inputs = TimeMajor(inputs.baseAddress, rows: rows, width: outputs)
            for time in 1..<max(timeSteps, 1) {
                for row in 0..<rows {
                    inputs.at(time, row: row).update(from: targetValues.at(time - 1, row: row), count: outputs)
                }
            }
        }
    }

    // MARK: Forward

    private var stackInput: StackInput {
        switch configuration.input {
        case .dense: .dense(inputs.baseAddress)
        case .oneHot: .tokens(tokens)
        case .embedding: .dense(embedded!.baseAddress)
        }
    }

    private var lengthPointer: UnsafePointer<Int32>? { hasLengths ? UnsafePointer(lengths) : nil }

    /// Runs the network on the loaded rows; the outputs land in `logits`.
    /// - Parameter dropout: the masks between layers of a training pass, nil at inference.
    /// Runs the model over the loaded rows; with `outputs`, also writes their
    /// outputs there, batch-first `[rows, steps, O]` per step or `[rows, O]`
    /// (the stack writes them there itself when they are its own output).
    func forward(
        parameters: UnsafePointer<Float>, prepared: PreparedNetwork, dropout: Dropout?, team: WorkerTeam,
        outputs: UnsafeMutablePointer<Float>? = nil
    ) {
        let c = configuration
        let batchFirstOutput = outputsInPlace ? outputs : nil
        func masks(stack: Int) -> ShardDropout? {
            dropout.map { ShardDropout(masks: $0.stack(stack), sequences: sequences) }
        }
        let initialHidden = hasInitialState ? UnsafePointer(self.initialHidden.baseAddress) : nil
        let initialCell = hasInitialState ? self.initialCell.map { UnsafePointer($0.baseAddress) } : nil
        if case .embedding(_, let dimension) = c.input, let embedded {
            let table = RowMajor(reading: parameters + embeddingOffset, width: dimension)
            let embedded = RowMajor(embedded.baseAddress, width: dimension)
            for position in 0..<timeSteps * rows {
                embedded.row(position).update(from: table.row(Int(tokens[position])), count: dimension)
            }
        }
        var startHidden = initialHidden, startCell = initialCell
        if let encoder, let encoderPrepared = prepared.encoder, let decoderInputs {
            encoder.forward(
                input: .dense(inputs.baseAddress), rows: rows, timeSteps: timeSteps, lengths: lengthPointer,
                initialHidden: initialHidden, initialCell: initialCell, dropout: masks(stack: 1),
                parameters: parameters, prepared: encoderPrepared, team: team)
            encoder.gatherFinalStates()
            startHidden = UnsafePointer(encoder.finalHiddenStates.baseAddress)
            startCell = encoder.finalCellStates.map { UnsafePointer($0.baseAddress) }
            stack.forward(
                input: .dense(decoderInputs.baseAddress), rows: rows, timeSteps: decoderTimeSteps, lengths: nil,
                initialHidden: startHidden, initialCell: startCell, dropout: masks(stack: 0),
                parameters: parameters, prepared: prepared.stack, team: team, batchFirstOutput: batchFirstOutput)
        } else {
            stack.forward(
                input: stackInput, rows: rows, timeSteps: timeSteps, lengths: lengthPointer,
                initialHidden: startHidden, initialCell: startCell, dropout: masks(stack: 0),
                parameters: parameters, prepared: prepared.stack, team: team, batchFirstOutput: batchFirstOutput)
        }
        if let features {
            let width = stack.shape.outputWidth, features = RowMajor(features.baseAddress, width: width)
            for row in 0..<rows {
                let last = Int(lengths[row]) - 1
                features.row(row).update(from: stack.output.at(last, row: row), count: width)
            }
        }
        if !outputsInPlace { run(.headForward(parameters), over: positions, on: team) }
        if let outputs, batchFirstOutput == nil { copyOutputs(to: outputs) }
    }

    /// Copies the time-major outputs to batch-first `[rows, steps, O]` (or `[rows, O]`).
    private func copyOutputs(to destination: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        let outputs = configuration.outputSize, steps = positions / rows
        let destination = RowMajor(destination, width: steps * outputs)
        for row in 0..<rows {
            for step in 0..<steps {
                destination.row(row, column: step * outputs).update(from: logits.row(step * rows + row), count: outputs)
            }
        }
    }

    /// What the head reads: the many-to-one features or the stack's output.
    /// `[positions, D]`, read only.
    private var headInput: RowMajor<Float> {
        RowMajor(features?.baseAddress ?? stack.output.base, width: stack.shape.outputWidth)
    }

    /// `logits = X W_headᵀ + b` (or `X` without a head) for output positions `positions`.
    private func applyHead(parameters: UnsafePointer<Float>, positions: Range<Int>, scratch: GEMMScratch) {
        let outputs = configuration.outputSize, width = stack.shape.outputWidth
        let logits = logits.row(positions.lowerBound)
        let input = headInput.row(positions.lowerBound)
        guard let head = head(reading: parameters) else {
            logits.update(from: input, count: positions.count * width)
            return
        }
        kernels.multiply(
            m: positions.count, n: outputs, k: width, a: input, lda: width, transposeA: false,
            b: head.weight.base, ldb: width, transposeB: true,
            bias: head.bias, c: logits, ldc: outputs, scratch: scratch)
    }

    // MARK: Loss

    /// Adds the loss of the counted positions, divided by `normalizer`, and
    /// replaces `logits` with the loss gradient (zero at positions that do not
    /// count). Returns the shard's unnormalised loss sum.
    func computeLoss(kind: LossKind, normalizer: Double) -> Double {
        let outputs = configuration.outputSize
        let scale = Float(1 / normalizer)
        var total = 0.0
        let targetValues = RowMajor(targetValues.baseAddress, width: outputs)
        for position in 0..<positions {
            let row = logits.row(position)
            guard counted[position] else {
                row.update(repeating: 0, count: outputs)
                continue
            }
            switch kind {
            case .crossEntropy:
                total += kernels.softmaxCrossEntropy(
                    row, count: outputs, label: Int(targetClasses[position]), scale: scale)
            case .meanSquaredError:
                total += kernels.squaredError(row, targets: targetValues.row(position), count: outputs, scale: scale)
            }
        }
        return total
    }

    // MARK: Backward

    /// Backpropagates the loss gradient left in `logits` into `gradients`
    /// (which the caller has zeroed).
    func backward(parameters: UnsafePointer<Float>, prepared: PreparedNetwork, team: WorkerTeam) {
        let c = configuration
        let width = stack.shape.outputWidth
        let grads = gradients.baseAddress
        // Head: dW = dYᵀ X, db = Σ dY, dX = dY W (dX = dY without a head).
        if let head = head(in: grads) {
            run(.headWeightGradient, over: width, on: team)
            kernels.accumulateColumnSums(
                logits.base, rows: positions, columns: c.outputSize,
                rowStride: c.outputSize, into: head.bias)
        }
        let stackSteps = c.topology == .encoderDecoder ? decoderTimeSteps : timeSteps
        if let featureGradient {
            run(.headInputGradient(parameters, into: featureGradient.baseAddress), over: rows, on: team)
            let outputGradient = TimeMajor(outputGradient, rows: rows, width: width)
            let featureGradient = RowMajor(featureGradient.baseAddress, width: width)
            outputGradient.base.update(repeating: 0, count: stackSteps * rows * width)
            for row in 0..<rows {
                let last = Int(lengths[row]) - 1
                outputGradient.at(last, row: row).update(from: featureGradient.row(row), count: width)
            }
        } else if !outputsInPlace {
            run(.headInputGradient(parameters, into: outputGradient), over: positions, on: team)
        }
        if let encoder, let encoderPrepared = prepared.encoder, let decoderInputs {
            stack.backward(
                outputGradient: outputGradient, finalHiddenGradient: nil, finalCellGradient: nil,
                input: .dense(decoderInputs.baseAddress), wantsInputGradient: false,
                parameters: parameters, gradients: grads, prepared: prepared.stack, team: team)
            // The decoder's initial state is the encoder's final state.
            encoder.backward(
                outputGradient: nil, finalHiddenGradient: stack.initialHiddenGradient.baseAddress,
                finalCellGradient: stack.initialCellGradient?.baseAddress,
                input: .dense(inputs.baseAddress), wantsInputGradient: false,
                parameters: parameters, gradients: grads, prepared: encoderPrepared, team: team)
            return
        }
        let inputGradient = stack.backward(
            outputGradient: outputGradient, finalHiddenGradient: nil,
            finalCellGradient: nil, input: stackInput,
            wantsInputGradient: embedded != nil,
            parameters: parameters, gradients: grads, prepared: prepared.stack, team: team)
        if case .embedding(_, let dimension) = c.input, let inputGradient {
            let table = RowMajor(grads + embeddingOffset, width: dimension)
            let inputGradient = RowMajor(reading: inputGradient, width: dimension)
            for position in 0..<timeSteps * rows {
                kernels.add(inputGradient.row(position), into: table.row(Int(tokens[position])), count: dimension)
            }
        }
    }

    /// `dW_head += dYᵀ X` for the weight columns `columns` (features of the head's input).
    private func accumulateHeadWeightGradient(columns: Range<Int>, scratch: GEMMScratch) {
        guard let head = head(in: gradients.baseAddress) else { return }
        let outputs = configuration.outputSize, width = stack.shape.outputWidth
        kernels.multiply(
            m: outputs, n: columns.count, k: positions, a: logits.base, lda: outputs, transposeA: true,
            b: headInput.row(0, column: columns.lowerBound), ldb: width, transposeB: false,
            c: head.weight.row(0, column: columns.lowerBound), ldc: width, accumulate: true,
            scratch: scratch)
    }

    /// `destination = dY W_head` (or `dY` without a head) for the rows `rows` of
    /// `dY` (positions, or many-to-one rows).
    private func propagateThroughHead(
        parameters: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
        rows: Range<Int>, scratch: GEMMScratch
    ) {
        let outputs = configuration.outputSize, width = stack.shape.outputWidth
        let gradient = logits.row(rows.lowerBound),
            destination = RowMajor(destination, width: width).row(rows.lowerBound)
        guard let head = head(reading: parameters) else {
            destination.update(from: gradient, count: rows.count * width)
            return
        }
        kernels.multiply(
            m: rows.count, n: width, k: outputs, a: gradient, lda: outputs, transposeA: false,
            b: head.weight.base, ldb: width, transposeB: false,
            c: destination, ldc: width, accumulate: false, scratch: scratch)
    }

    // MARK: Parallel regions

    /// A region of the head's work that a team splits, and what it is split over.
    private enum Region {
        case idle
        /// The head's outputs, by positions.
        case headForward(UnsafePointer<Float>)
        /// The head's weight gradient, by columns.
        case headWeightGradient
        /// The gradient on the head's input, by rows.
        case headInputGradient(UnsafePointer<Float>, into: UnsafeMutablePointer<Float>)
    }

    private func run(_ region: Region, over count: Int, on team: WorkerTeam) {
        self.region = region
        team.forEachPart(of: count, granule: 16, self)
        self.region = .idle
    }
}

extension ShardWorkspace: PartJob {
    func runPart(_ part: Range<Int>, scratch: GEMMScratch) {
        switch region {
        case .idle: break
        case .headForward(let parameters): applyHead(parameters: parameters, positions: part, scratch: scratch)
        case .headWeightGradient: accumulateHeadWeightGradient(columns: part, scratch: scratch)
        case .headInputGradient(let parameters, let destination):
            propagateThroughHead(parameters: parameters, into: destination, rows: part, scratch: scratch)
        }
    }
}
