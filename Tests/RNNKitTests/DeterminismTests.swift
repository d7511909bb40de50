import Testing
@testable import RNNKit

/// Weights after training must be bit-identical for every thread count, up
/// to a 64-core host's (here far more threads than cores).
@Test(arguments: CellKind.allCases)
func trainingIsIndependentOfThreadCount(_ cell: CellKind) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .dense(features: 5), hiddenSize: 19, layers: 2,
        bidirectional: true, outputSize: 3, topology: .manyToMany)
    var factory = BatchFactory(seed: 5)
    // 150 rows: five shards, the last one partial; on 64 threads, five teams
    // of twelve or thirteen.
    let batch = factory.batch(for: configuration, count: 150, timeSteps: 7, variableLengths: true)
    var results: [[UInt32]] = []
    let threadCounts = [1, 2, 3, 64]
    for threads in threadCounts {
        let model = try Model(configuration, seed: 1)
        let trainer = Trainer(
            model: model, optimizer: .adam(learningRate: 1e-2), clipping: .norm(0.5), threads: threads)
        for _ in 0..<3 { try trainer.step(batch) }
        results.append(model.parameterNames.flatMap { model.parameter($0)!.map(\.bitPattern) })
    }
    for (threads, result) in zip(threadCounts, results).dropFirst() {
        #expect(firstDifference(result, results[0]) == nil, "\(cell.rawValue): \(threads) threads differ from 1")
    }
}

/// Thread counts for the split-step tests: one thread alone; teams that cut
/// 40 hidden units into two and three parts (16 + 16 + 8); more threads
/// than parts and than cores, up to a 64-core host's.
private let teamThreadCounts = [1, 2, 3, 16, 64]

/// Batches smaller than one shard (5, 8) run as one shard whose steps the
/// threads split; 33 rows make a full shard and a one-row shard, each with
/// its own team. Weights after several steps and inference outputs must not
/// depend on the thread count.
@Test(arguments: [CellKind.rnnTanh, .lstm, .gru], [5, 8, 33])
func splitStepsAreIndependentOfThreadCount(_ cell: CellKind, rows: Int) throws {
    let configuration = ModelConfiguration(
        cell: cell, input: .dense(features: 6), hiddenSize: 40, layers: 2,
        bidirectional: true, outputSize: 3, topology: .manyToMany)
    var factory = BatchFactory(seed: UInt64(rows))
    let batch = factory.batch(for: configuration, count: rows, timeSteps: 6, variableLengths: true)
    let results = try teamThreadCounts.map { try trainAndPredict(configuration, batch, threads: $0) }
    for (threads, result) in zip(teamThreadCounts, results).dropFirst() {
        #expect(
            firstDifference(result, results[0]) == nil,
            "\(cell.rawValue), \(rows) rows: \(threads) threads differ from 1")
    }
}

/// The other places a team splits: one-hot and embedding inputs (the input
/// projection and its weight gradient), the many-to-one head, an
/// encoder-decoder's two stacks, and a hidden size that is not a whole number
/// of parts.
@Test(arguments: [
    ModelConfiguration(
        cell: .gru, input: .oneHot(vocabularySize: 11), hiddenSize: 35, layers: 2,
        bidirectional: true, outputSize: 11, topology: .manyToMany),
    ModelConfiguration(
        cell: .lstm, input: .embedding(vocabularySize: 13, dimension: 7), hiddenSize: 37,
        bidirectional: true, outputSize: 4, topology: .manyToOne),
    ModelConfiguration(
        cell: .lstm, input: .dense(features: 3), hiddenSize: 33, layers: 2,
        outputSize: 3, topology: .encoderDecoder)
])
func splitStepsAreIndependentOfThreadCountForEveryTopology(_ configuration: ModelConfiguration) throws {
    var factory = BatchFactory(seed: 9)
    let batch = factory.batch(
        for: configuration, count: 7, timeSteps: 5, variableLengths: configuration.topology != .encoderDecoder,
        decoderTimeSteps: configuration.topology == .encoderDecoder ? 4 : 0,
        classes: configuration.vocabularySize != nil)
    let results = try teamThreadCounts.map { try trainAndPredict(configuration, batch, threads: $0) }
    for (threads, result) in zip(teamThreadCounts, results).dropFirst() {
        #expect(firstDifference(result, results[0]) == nil, "\(configuration): \(threads) threads differ from 1")
    }
}

/// The bit patterns of the weights after three steps, then of the trained
/// model's outputs and final states.
private func trainAndPredict(_ configuration: ModelConfiguration, _ batch: SequenceBatch, threads: Int) throws
    -> [UInt32]
{
    let model = try Model(configuration, seed: 3)
    let trainer = Trainer(model: model, optimizer: .adam(learningRate: 1e-2), clipping: .norm(0.5), threads: threads)
    for _ in 0..<3 { try trainer.step(batch) }
    var result = model.parameterNames.flatMap { model.parameter($0)!.map(\.bitPattern) }
    let (outputs, finalState) = try Predictor(model: model, threads: threads).run(batch)
    result += outputs.map(\.bitPattern) + finalState.hidden.map(\.bitPattern)
    result += (finalState.cell ?? []).map(\.bitPattern)
    return result
}

/// The first index where two bit-pattern lists differ (a count mismatch
/// counts as a difference at the shorter end), or nil when they are equal.
private func firstDifference(_ a: [UInt32], _ b: [UInt32]) -> Int? {
    if let index = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return index }
    return a.count == b.count ? nil : min(a.count, b.count)
}

// Inference projects a layer's inputs a chunk of steps at a time (about
// 256 KiB of gates) into slots that the next chunk reuses. A shard of 32
// rows of a 48-unit LSTM or GRU takes 10 or 14 steps per chunk, one of 20
// rows 17 or 22, so 23 steps cross chunk edges in both directions; a
// sequence alone takes all its steps at once. Both give the same bits, on
// one thread, on two (a shard each), and with two splitting one shard.
@Test(arguments: [
    ModelConfiguration(
        cell: .lstm, input: .dense(features: 5), hiddenSize: 48, layers: 2, bidirectional: true, outputSize: 3,
        topology: .manyToMany),
    ModelConfiguration(
        cell: .gru, input: .oneHot(vocabularySize: 7), hiddenSize: 48, bidirectional: true, outputSize: 3,
        topology: .manyToMany)
])
func chunkedInputProjectionsMatchWholeSequences(_ configuration: ModelConfiguration) throws {
    let model = try Model(configuration, seed: 8)
    var factory = BatchFactory(seed: 9)
    let count = 40, steps = 23
    let batch = factory.batch(for: configuration, count: count, timeSteps: steps, variableLengths: true)
    func rows(_ range: Range<Int>) -> SequenceBatch {
        let inputs: SequenceBatch.Inputs
        switch batch.inputs {
        case .tokens(let tokens): inputs = .tokens(Array(tokens[range.lowerBound * steps..<range.upperBound * steps]))
        case .features(let features):
            let width = steps * configuration.input.rnnInputSize
            inputs = .features(Array(features[range.lowerBound * width..<range.upperBound * width]))
        }
        return SequenceBatch(
            count: range.count, timeSteps: steps, inputs: inputs, lengths: batch.lengths.map { Array($0[range]) })
    }
    let alone = try (0..<count).flatMap { try model.outputs(for: rows($0..<$0 + 1), threads: 1) }
    for threads in [1, 2] { #expect(try model.outputs(for: batch, threads: threads) == alone, "\(threads) threads") }
    let perRow = alone.count / count
    #expect(try model.outputs(for: rows(0..<20), threads: 2) == Array(alone[0..<20 * perRow]))
}
