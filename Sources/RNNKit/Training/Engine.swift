import Foundation
import RNNKernels

/// Runs a model's forward and backward passes over a batch, sharded across
/// threads, with every buffer allocated once per shape and reused.
final class Engine {
    let model: Model
    /// The kernels every pass runs, resolved once from `Model.kernelSelection`.
    let kernels: Kernels
    let prepared: PreparedNetwork
    let scheduler: ShardScheduler
    let withGradients: Bool
    private(set) var shards: [ShardWorkspace] = []
    private var rowCapacity = 0
    private var timeCapacity = 0
    private var decoderTimeCapacity = 0
    /// Batch row of each mini-batch position (the identity when no rows are given).
    private var rowIndices: [Int] = []
    /// Each shard's gradient buffer, for the reduction.
    private var gradientBuffers = UnsafeMutableBufferPointer<UnsafeMutablePointer<Float>>.allocate(capacity: 0)
    /// Each shard's loss sum, written by its worker (disjoint slots).
    private(set) var shardLosses = UnsafeMutableBufferPointer<Double>.allocate(capacity: 0)

    init(model: Model, threads: Int, withGradients: Bool) {
        self.model = model
        kernels = Kernels(model.kernelSelection)
        prepared = PreparedNetwork(model: model, kernels: kernels, use: withGradients ? .training : .inference)
        scheduler = ShardScheduler(threads: threads, kernels: kernels)
        self.withGradients = withGradients
    }

    deinit {
        shardLosses.deallocate()
        gradientBuffers.deallocate()
    }

    /// Grows the shard workspaces to hold `rows` sequences of the batch's length.
    func reserve(rows: Int, timeSteps: Int, decoderTimeSteps: Int) throws(ModelError) {
        let shardCount = ShardScheduler.shardCount(rows: rows)
        let shardRows = min(rows, ShardScheduler.shardRows)
        if shardCount <= shards.count, shardRows <= rowCapacity, timeSteps <= timeCapacity,
            decoderTimeSteps <= decoderTimeCapacity
        {
            return
        }
        let newRows = max(shardRows, rowCapacity)
        let newTime = max(timeSteps, timeCapacity), newDecoderTime = max(decoderTimeSteps, decoderTimeCapacity)
        let newCount = max(shardCount, shards.count)
        try checkMemory(shards: newCount, rows: newRows, timeSteps: newTime, decoderTimeSteps: newDecoderTime)
        shards = (0..<newCount).map { _ in
            ShardWorkspace(
                model: model, kernels: kernels, rowCapacity: newRows, timeCapacity: newTime,
                decoderTimeCapacity: newDecoderTime, withGradients: withGradients)
        }
        shardLosses.deallocate()
        shardLosses = .allocate(capacity: newCount)
        shardLosses.initialize(repeating: 0)
        gradientBuffers.deallocate()
        gradientBuffers = .allocate(capacity: newCount)
        for (index, shard) in shards.enumerated() { gradientBuffers[index] = shard.gradients.baseAddress }
        (rowCapacity, timeCapacity, decoderTimeCapacity) = (newRows, newTime, newDecoderTime)
    }

    /// Refuses a shape whose buffers would not fit in physical memory, before
    /// allocating anything.
    private func checkMemory(shards: Int, rows: Int, timeSteps: Int, decoderTimeSteps: Int) throws(ModelError) {
        let bytes =
            Double(shards)
            * Double(
                ShardWorkspace.byteCount(
                    model: model, rowCapacity: rows, timeCapacity: timeSteps, decoderTimeCapacity: decoderTimeSteps,
                    withGradients: withGradients))
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes < 0.9 * available else {
            throw .tooLarge(
                String(
                    format:
                        "this batch shape needs about %.1f GiB of buffers, more than the %.1f GiB of memory here; "
                        + "use a smaller batch or sequence length",
                    bytes / 1_073_741_824, available / 1_073_741_824))
        }
    }

    /// Refuses an empty selection of rows, or a row outside `batch` (all rows when nil).
    static func checkRows(_ rows: [Int]?, of batch: SequenceBatch) throws(ModelError) {
        guard (rows?.count ?? batch.count) > 0 else { throw .inputMismatch("no rows selected") }
        if let bad = rows?.first(where: { $0 < 0 || $0 >= batch.count }) {
            throw .inputMismatch("row \(bad) is outside the batch of \(batch.count)")
        }
    }

    /// Loads `rows` of `batch` (all rows when nil) into the shards.
    private func load(_ batch: SequenceBatch, rows: [Int]?) throws(ModelError) -> Int {
        try Self.checkRows(rows, of: batch)
        let count = rows?.count ?? batch.count
        // Only an encoder-decoder model reads the decoder's length.
        let decoderTimeSteps = model.configuration.topology == .encoderDecoder ? batch.decoderTimeSteps : 0
        try reserve(rows: count, timeSteps: batch.timeSteps, decoderTimeSteps: decoderTimeSteps)
        if let rows {
            rowIndices = rows
        } else if rowIndices.count != count || rowIndices.last != count - 1 {
            rowIndices = Array(0..<count)
        }
        return count
    }

    /// The number of output positions (times output width, for MSE) that the
    /// loss averages over.
    static func normalizer(_ batch: SequenceBatch, rows: [Int], configuration c: ModelConfiguration, loss: LossKind)
        -> Double
    {
        var positions = 0
        switch c.topology {
        case .manyToMany: for row in rows { positions += batch.length(of: row) }
        case .oneToMany: positions = rows.count * batch.timeSteps
        case .encoderDecoder: positions = rows.count * batch.decoderTimeSteps
        case .manyToOne, .oneToOne: positions = rows.count
        }
        return Double(positions) * (loss == .meanSquaredError ? Double(c.outputSize) : 1)
    }

    /// Forward and backward over the batch, through `dropout`'s masks (a
    /// training pass); leaves the summed gradient in `shards[0].gradients`
    /// and returns the mean loss.
    func forwardBackward(_ batch: SequenceBatch, rows: [Int]?, initialState: RecurrentState?, dropout: Dropout?)
        throws(ModelError) -> Double
    {
        precondition(withGradients, "engine built for inference only")
        let shardCount = try pass(batch, rows: rows, initialState: initialState, backward: true, dropout: dropout)
        scheduler.reduce(gradientBuffers.baseAddress!, buffers: shardCount, count: model.layout.totalCount)
        return meanLoss(shardCount: shardCount)
    }

    /// Forward and backward over `rows`, this process's share of a
    /// mini-batch spread over processes: each shard's loss is scaled by the
    /// whole mini-batch's `normalizer`, and each shard's gradient stays in
    /// its own buffer (`shardGradients`) for `GradientSum` to reduce.
    func forwardBackwardShare(_ batch: SequenceBatch, rows: [Int], normalizer: Double, dropout: Dropout?)
        throws(ModelError)
    {
        precondition(withGradients, "engine built for inference only")
        _ = try pass(batch, rows: rows, initialState: nil, backward: true, dropout: dropout, normalizer: normalizer)
    }

    /// Each shard's gradient buffer, in shard order.
    var shardGradients: UnsafePointer<UnsafeMutablePointer<Float>> { UnsafePointer(gradientBuffers.baseAddress!) }

    /// The mean loss without gradients.
    func forwardLoss(_ batch: SequenceBatch, rows: [Int]?, initialState: RecurrentState? = nil) throws(ModelError)
        -> Double
    {
        meanLoss(shardCount: try pass(batch, rows: rows, initialState: initialState, backward: false, dropout: nil))
    }

    private var normalizer = 1.0

    private func meanLoss(shardCount: Int) -> Double {
        var total = 0.0
        for shard in 0..<shardCount { total += shardLosses[shard] }
        return total / normalizer
    }

    /// What the shards of the current parallel pass do, read by the workers.
    private struct Pass {
        enum Goal {
            /// Score the loss, and backpropagate when `backward`.
            case loss(LossKind, backward: Bool)
            /// Write the outputs to `destination`, `perRow` floats per row.
            case outputs(destination: UnsafeMutablePointer<Float>, perRow: Int)

            var scores: Bool {
                if case .loss = self { true } else { false }
            }
        }
        var batch: SequenceBatch
        var rows: Int
        var initialState: RecurrentState?
        var goal: Goal
        /// The masks between layers of a training pass.
        var dropout: Dropout?
    }

    private var currentPass: Pass?

    /// Loads, runs and scores every shard, the loss averaged over
    /// `normalizer` positions (those of `rows` when nil); returns the shard count.
    private func pass(
        _ batch: SequenceBatch, rows: [Int]?, initialState: RecurrentState?, backward: Bool, dropout: Dropout?,
        normalizer: Double? = nil
    ) throws(ModelError) -> Int {
        guard let targets = batch.targets else { throw .inputMismatch("a loss needs targets") }
        let count = try load(batch, rows: rows)
        self.normalizer =
            normalizer
            ?? Self.normalizer(batch, rows: rowIndices, configuration: model.configuration, loss: targets.loss)
        run(
            Pass(
                batch: batch, rows: count, initialState: initialState, goal: .loss(targets.loss, backward: backward),
                dropout: dropout))
        return ShardScheduler.shardCount(rows: count)
    }

    /// The model's outputs for every row of `batch`: `[N, T', O]` per step or `[N, O]`.
    func outputs(_ batch: SequenceBatch, initialState: RecurrentState?) throws(ModelError) -> [Float] {
        let count = try load(batch, rows: nil)
        let c = model.configuration
        let steps = c.topology == .encoderDecoder ? batch.decoderTimeSteps : batch.timeSteps
        let stepsPerRow = c.topology.outputsPerStep ? steps : 1
        // Every float is written by a shard's forward pass: no zero fill first.
        let total = count * stepsPerRow * c.outputSize
        let result = [Float](unsafeUninitializedCapacity: total) { result, initialized in
            run(
                Pass(
                    batch: batch, rows: count, initialState: initialState,
                    goal: .outputs(
                        destination: result.baseAddress!, perRow: stepsPerRow * c.outputSize))
            )
            initialized = total
        }
        return result
    }

    private func run(_ pass: Pass) {
        // Every write of the parameters (an update, setParameter) moves the
        // version, so edits of the model are seen at the next pass.
        prepared.prepare(from: model.parameters.baseAddress, version: model.parameterVersion)
        currentPass = pass
        defer { currentPass = nil }
        scheduler.forEachShard(ShardScheduler.shardCount(rows: pass.rows), self)
    }
}

extension Engine: ShardJob {
    func runShard(_ shard: Int, team: WorkerTeam) {
        guard let pass = currentPass else { return }
        let workspace = shards[shard]
        let range = ShardScheduler.shardRange(shard, rows: pass.rows)
        rowIndices.withUnsafeBufferPointer { indices in
            workspace.load(
                pass.batch, batchRows: UnsafeBufferPointer(rebasing: indices[range]), firstRow: range.lowerBound,
                initialState: pass.initialState, scoring: pass.goal.scores)
        }
        let parameters = UnsafePointer(model.parameters.baseAddress)
        switch pass.goal {
        case .loss(let kind, let backward):
            workspace.forward(parameters: parameters, prepared: prepared, dropout: pass.dropout, team: team)
            shardLosses[shard] = workspace.computeLoss(kind: kind, normalizer: normalizer)
            guard backward else { return }
            workspace.gradients.zero()
            workspace.backward(parameters: parameters, prepared: prepared, team: team)
        case .outputs(let destination, let perRow):
            workspace.forward(
                parameters: parameters, prepared: prepared, dropout: pass.dropout, team: team,
                outputs: RowMajor(destination, width: perRow).row(range.lowerBound))
        }
    }
}

extension Engine {
    /// The final states left by the last pass over `count` rows, batch-wide.
    func finalState(count: Int) -> RecurrentState {
        let c = model.configuration
        var state = RecurrentState.zeroState(for: c, count: count)
        state.hidden.withUnsafeMutableBufferPointer { hidden in
            for shard in 0..<ShardScheduler.shardCount(rows: count) {
                let range = ShardScheduler.shardRange(shard, rows: count)
                if state.cell == nil {
                    shards[shard].copyFinalState(
                        hidden: hidden.baseAddress!, cell: nil, firstRow: range.lowerBound, count: count)
                } else {
                    state.cell!.withUnsafeMutableBufferPointer { cell in
                        shards[shard].copyFinalState(
                            hidden: hidden.baseAddress!, cell: cell.baseAddress!,
                            firstRow: range.lowerBound, count: count)
                    }
                }
            }
        }
        return state
    }
}
