import Testing
@testable import RNNKit

// Truncated backpropagation through time: a long sequence runs in chunks, each
// chunk starting from the state the previous one ended in.

extension SequenceBatch {
    /// Steps `steps` of every sequence of a per-step batch of full-length
    /// sequences (dense or token inputs, per-step targets).
    func timeSlice(_ steps: Range<Int>) -> SequenceBatch {
        precondition(lengths == nil && decoderInputs == nil, "a time slice of full-length sequences only")
        func slice<Element>(_ values: [Element]) -> [Element] {
            let width = values.count / (count * timeSteps)
            return (0..<count).flatMap { row in
                values[(row * timeSteps + steps.lowerBound) * width..<(row * timeSteps + steps.upperBound) * width]
            }
        }
        let slicedInputs: Inputs =
            switch inputs {
            case .features(let values): .features(slice(values))
            case .tokens(let values): .tokens(slice(values))
            }
        let slicedTargets: Targets? =
            switch targets {
            case .values(let values)?: .values(slice(values))
            case .classes(let labels)?: .classes(slice(labels))
            case nil: nil
            }
        return SequenceBatch(count: count, timeSteps: steps.count, inputs: slicedInputs, targets: slicedTargets)
    }
}

/// The bit patterns of per-step outputs `[N, T, O]` cut into chunks of the
/// given lengths and put back in `[N, T, O]` order.
private func joinedOutputs(_ chunks: [[Float]], lengths: [Int], count: Int) -> [UInt32] {
    var result: [UInt32] = []
    for row in 0..<count {
        for (chunk, length) in zip(chunks, lengths) {
            let width = chunk.count / (count * length)
            result += chunk[row * length * width..<(row + 1) * length * width].map(\.bitPattern)
        }
    }
    return result
}

private func bits(_ state: RecurrentState) -> [UInt32] {
    state.hidden.map(\.bitPattern) + (state.cell ?? []).map(\.bitPattern)
}

/// Chunk lengths of the 13-step sequences, uneven on purpose.
private let chunkLengths = [5, 1, 4, 3]

private func chunkRanges() -> [Range<Int>] {
    var start = 0
    return chunkLengths.map { length in
        defer { start += length }
        return start..<start + length
    }
}

/// Running a sequence in chunks, each starting from the previous chunk's
/// final state, gives the bits of one run over the whole sequence: every
/// output and the final state. 45 rows make two shards, run by two threads.
/// The first chunk starts from no state in one chain and from explicit zeros
/// in the other, which must not differ either.
@Test(arguments: CellKind.allCases, [InputEncoding.dense(features: 3), .embedding(vocabularySize: 7, dimension: 4)])
func chunkedRunsMatchTheWholeSequence(_ cell: CellKind, input: InputEncoding) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: input, hiddenSize: 21, layers: 2,
        outputSize: input.readsTokens ? 7 : 2, topology: .manyToMany)
    let model = try Model(configuration, seed: 4)
    var factory = BatchFactory(seed: 6)
    let batch = factory.batch(
        for: configuration, count: 45, timeSteps: chunkLengths.reduce(0, +), variableLengths: false,
        classes: input.readsTokens)
    let whole = try model.run(batch, threads: 2)

    var outputs: [[Float]] = []
    var state: RecurrentState?
    for steps in chunkRanges() {
        let chunk = try model.run(batch.timeSlice(steps), initialState: state, threads: 2)
        outputs.append(chunk.outputs)
        state = chunk.finalState
    }
    #expect(joinedOutputs(outputs, lengths: chunkLengths, count: batch.count) == whole.outputs.map(\.bitPattern))
    #expect(bits(try #require(state)) == bits(whole.finalState))

    // Training steps see the same forward pass: with a zero learning rate the
    // weights stay put, and each step's final state is the chunked run's.
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 2)
    var trainedState = try RecurrentState.zeros(for: configuration, count: batch.count)
    for steps in chunkRanges() {
        trainedState = try #require(try trainer.step(batch.timeSlice(steps), initialState: trainedState).finalState)
    }
    #expect(bits(trainedState) == bits(whole.finalState))
}

/// A training step on chosen rows reads the initial state in the order of
/// `rows` and returns the final state in that order, across shards: a step
/// over a permutation of 70 rows (three shards) carries each row's state.
@Test(arguments: CellKind.allCases)
func chunkedStepsOnChosenRowsCarryEachRowsState(_ cell: CellKind) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .dense(features: 3), hiddenSize: 10, layers: 2,
        outputSize: 2, topology: .manyToMany)
    let model = try Model(configuration, seed: 8)
    var factory = BatchFactory(seed: 12)
    let batch = factory.batch(
        for: configuration, count: 80, timeSteps: chunkLengths.reduce(0, +), variableLengths: false)
    var generator = SeededGenerator(seed: 5)
    let rows = Array(Array(0..<batch.count).shuffled(using: &generator).prefix(70))
    let whole = try model.run(batch, threads: 2).finalState

    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 2)
    var state = try RecurrentState.zeros(for: configuration, count: rows.count)
    for steps in chunkRanges() {
        state = try #require(try trainer.step(batch.timeSlice(steps), rows: rows, initialState: state).finalState)
    }
    // The whole run's state, its rows picked in the order of `rows`.
    func picked(_ values: [Float]) -> [UInt32] {
        var result: [UInt32] = []
        for unit in 0..<whole.units {
            for row in rows {
                let start = (unit * whole.count + row) * whole.hiddenSize
                result += values[start..<start + whole.hiddenSize].map(\.bitPattern)
            }
        }
        return result
    }
    #expect(state.hidden.map(\.bitPattern) == picked(whole.hidden))
    #expect(state.cell.map { $0.map(\.bitPattern) } == whole.cell.map(picked))
}

/// A bidirectional model takes an initial state for both directions, but its
/// reverse direction runs each chunk from the chunk's end, so chunks are not
/// the whole sequence: only layer 0's forward direction, which reads nothing
/// but the inputs and its own state, carries over exactly.
@Test(arguments: CellKind.allCases)
func chunkedBidirectionalRunsCarryOnlyTheFirstForwardDirection(_ cell: CellKind) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .dense(features: 3), hiddenSize: 9, layers: 2,
        bidirectional: true, outputSize: 2, topology: .manyToMany)
    let model = try Model(configuration, seed: 2)
    var factory = BatchFactory(seed: 3)
    let batch = factory.batch(
        for: configuration, count: 40, timeSteps: chunkLengths.reduce(0, +), variableLengths: false)
    let whole = try model.run(batch, threads: 2).finalState
    var state: RecurrentState?
    for steps in chunkRanges() {
        state = try model.run(batch.timeSlice(steps), initialState: state, threads: 2).finalState
    }
    let chunked = try #require(state)
    // Unit 0 is layer 0 forward; the units after it hold other directions and layers.
    let unit = whole.count * whole.hiddenSize
    #expect(chunked.hidden[..<unit].map(\.bitPattern) == whole.hidden[..<unit].map(\.bitPattern))
    #expect(chunked.hidden[unit...] != whole.hidden[unit...])
}

/// With an initial state, the gradient of a step is the derivative of the
/// loss with respect to the parameters, the state held fixed: finite
/// differences of the loss agree with it. A random state (the cell state
/// too) over 40 rows on two threads; the gradient must differ from the one
/// from zeros, or the state would not be read at all.
@Test(arguments: CellKind.allCases, [false, true])
func gradientsWithAnInitialStateMatchFiniteDifferences(_ cell: CellKind, bidirectional: Bool) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .dense(features: 3), hiddenSize: 3, layers: 2,
        bidirectional: bidirectional, outputSize: 2, topology: .manyToMany)
    let model = try Model(configuration, seed: 7)
    model.scaleParameters(by: 1.5)
    var factory = BatchFactory(seed: 11)
    let batch = factory.batch(for: configuration, count: 40, timeSteps: 4, variableLengths: true)
    var generator = SeededGenerator(seed: 13)
    var state = try RecurrentState.zeros(for: configuration, count: batch.count)
    state.hidden = state.hidden.map { _ in generator.uniform(-1, 1) }
    state.cell = state.cell?.map { _ in generator.uniform(-2, 2) }
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 2)
    let (_, analytic) = try trainer.gradients(batch, initialState: state)
    let (_, fromZeros) = try trainer.gradients(batch)
    #expect(analytic != fromZeros)
    try expectGradientsMatchFiniteDifferences(model: model, analytic: analytic, kinks: cell == .rnnReLU) {
        try trainer.loss(batch, initialState: state)
    }
}
