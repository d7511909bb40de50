import RNNKernels

/// Sums a mini-batch's gradient through the fixed reduction tree when the
/// shards do not all run at once: in micro-batches of whole shards (gradient
/// accumulation), across processes, or both. The weights keep the bits of one
/// pass over the whole mini-batch in one process.
///
/// Each process runs a contiguous share of the shards, micro-batch by
/// micro-batch, and keeps the sums of the aligned sub-trees it has completed
/// (`SubtreeSums`). With one process, finishing the tree over them gives the
/// gradient. With several, the sub-trees' sums are scattered by chunk: the
/// owner of each chunk of the gradient receives every sub-tree's part of it
/// and makes the tree's remaining additions in the tree's order, and an
/// all-gather hands every process the whole sum. With one sub-tree per
/// process, each sends and receives about twice the gradient per step, as a
/// ring all-reduce does. `MPI_Allreduce` cannot serve: it may add in any order.
final class GradientSum {
    let communicator: any Communicator
    private let engine: Engine
    /// Floats per gradient.
    let count: Int

    /// How a mini-batch of `shardCount` shards is spread over the processes.
    struct Plan {
        let shardCount: Int
        /// The shards each rank runs: contiguous and as even as shards allow.
        let shares: [Range<Int>]
        /// Each rank's share cut into the largest sub-trees it holds whole.
        let nodes: [[Range<Int>]]
        /// The gradient floats each rank finishes the tree for.
        let chunks: [Range<Int>]

        init(shardCount: Int, ranks: Int, count: Int) {
            self.shardCount = shardCount
            shares = (0..<ranks).map { rank in rank * shardCount / ranks..<(rank + 1) * shardCount / ranks }
            nodes = shares.map { ReductionTree.subtrees(of: $0, shardCount: shardCount) }
            // Chunks start on cache lines, so the owners' additions stay aligned.
            let starts = (0..<ranks).map { (count * $0 / ranks) & ~15 } + [count]
            chunks = (0..<ranks).map { starts[$0]..<starts[$0 + 1] }
        }
    }

    private var plan: Plan?
    private let sums: SubtreeSums
    /// The summed gradient after an exchange, the same on every rank.
    private let reduced: AlignedBuffer
    private var sending = AlignedBuffer(count: 0)
    private var receiving = AlignedBuffer(count: 0)
    /// Every shard's loss, in shard order.
    private var losses: [Double] = []
    private var allRows: [Int] = []
    private var microRows: [Int] = []

    init(engine: Engine, communicator: any Communicator) {
        self.engine = engine
        self.communicator = communicator
        count = engine.model.layout.totalCount
        sums = SubtreeSums(count: count, kernels: engine.kernels)
        reduced = AlignedBuffer(count: communicator.size > 1 ? count : 0)
    }

    /// Bytes this process receives from the others per step for a
    /// mini-batch of `shardCount` shards: their nodes' parts of its chunk,
    /// the rest of the sum, and their shards' losses.
    func bytesReceived(shardCount: Int) -> Int {
        guard communicator.size > 1 else { return 0 }
        let plan = Plan(shardCount: shardCount, ranks: communicator.size, count: count)
        let rank = communicator.rank, mine = plan.chunks[rank].count
        let otherNodes = plan.nodes.indices.filter { $0 != rank }.reduce(0) { $0 + plan.nodes[$1].count }
        return MemoryLayout<Float>.stride * (otherNodes * mine + count - mine)
            + MemoryLayout<Double>.stride * (shardCount - plan.shares[rank].count)
    }

    /// Forward and backward over this process's share of `rows` of `batch`
    /// (all rows when nil), `microShards` shards at a time, through
    /// `dropout`'s masks, then the tree.
    /// - Returns: the mini-batch's mean loss and its summed gradient, valid
    ///   until the next call.
    func forwardBackward(_ batch: SequenceBatch, rows: [Int]?, microShards: Int, dropout: Dropout?) throws(ModelError)
        -> (loss: Double, gradients: UnsafeMutablePointer<Float>)
    {
        // Every process must reach the exchange, so what one would refuse
        // inside the engine is refused here, by all.
        guard let targets = batch.targets else { throw .inputMismatch("a loss needs targets") }
        try Engine.checkRows(rows, of: batch)
        if rows == nil, allRows.count != batch.count {
            allRows = Array(0..<batch.count)
        }
        let rows = rows ?? allRows
        let shardCount = ShardScheduler.shardCount(rows: rows.count)
        if plan?.shardCount != shardCount { preparePlan(shardCount: shardCount) }
        let plan = plan!, share = plan.shares[communicator.rank]
        let normalizer = Engine.normalizer(
            batch, rows: rows, configuration: engine.model.configuration, loss: targets.loss)

        sums.reset(shardCount: shardCount, from: share.lowerBound)
        for first in stride(from: share.lowerBound, to: share.upperBound, by: max(1, microShards)) {
            let shards = first..<min(first + max(1, microShards), share.upperBound)
            let rowRange =
                ShardScheduler.shardRange(shards.lowerBound, rows: rows.count)
                .lowerBound..<ShardScheduler.shardRange(shards.upperBound - 1, rows: rows.count).upperBound
            microRows.removeAll(keepingCapacity: true)
            microRows.append(contentsOf: rows[rowRange])
            try engine.forwardBackwardShare(batch, rows: microRows, normalizer: normalizer, dropout: dropout)
            for shard in shards { losses[shard] = engine.shardLosses[shard - shards.lowerBound] }
            let buffers = engine.shardGradients
            for node in ReductionTree.subtrees(of: shards, shardCount: shardCount) {
                let local = buffers + (node.lowerBound - shards.lowerBound)
                engine.scheduler.reduce(local, buffers: node.count, count: count)
                sums.add(node, sum: local[0])
            }
        }
        let gradients: UnsafeMutablePointer<Float>
        if communicator.size == 1 {
            gradients = sums.finish()
        } else {
            exchange(plan)
            gatherLosses(plan)
            gradients = reduced.baseAddress
        }
        var total = 0.0
        for loss in losses { total += loss }
        return (total / normalizer, gradients)
    }

    private func preparePlan(shardCount: Int) {
        let plan = Plan(shardCount: shardCount, ranks: communicator.size, count: count)
        let rank = communicator.rank
        if communicator.size > 1 {
            let nodeCount = plan.nodes.reduce(0) { $0 + $1.count }
            let sent = plan.nodes[rank].count * count, received = nodeCount * plan.chunks[rank].count
            if sending.count < sent { sending = AlignedBuffer(count: sent) }
            if receiving.count < received { receiving = AlignedBuffer(count: received) }
        }
        losses = Array(repeating: 0, count: shardCount)
        self.plan = plan
    }

    /// Scatters the sub-trees' sums by chunk, finishes the tree over this
    /// rank's chunk, and gathers every chunk of the sum into `reduced`.
    private func exchange(_ plan: Plan) {
        let rank = communicator.rank, mine = plan.chunks[rank]
        let nodes = sums.nodes
        assert(nodes.map(\.shards) == plan.nodes[rank], "the micro-batches left other sub-trees than the plan's")
        // Each node's sum laid out chunk by chunk, in the order of the ranks that own them.
        var offset = 0
        for chunk in plan.chunks {
            for node in nodes {
                (sending.baseAddress + offset).update(from: node.sum.baseAddress + chunk.lowerBound, count: chunk.count)
                offset += chunk.count
            }
        }
        let floats = MemoryLayout<Float>.stride
        let sendCounts = plan.chunks.map { $0.count * nodes.count * floats }
        let receiveCounts = plan.nodes.map { $0.count * mine.count * floats }
        communicator.exchange(
            sending: UnsafeRawBufferPointer(start: sending.baseAddress, count: sendCounts.reduce(0, +)),
            sendCounts: sendCounts,
            receiving: UnsafeMutableRawBufferPointer(start: receiving.baseAddress, count: receiveCounts.reduce(0, +)),
            receiveCounts: receiveCounts)

        var slots = [UnsafeMutablePointer<Float>?](repeating: nil, count: plan.shardCount)
        offset = 0
        for node in plan.nodes.joined() {
            slots[node.lowerBound] = receiving.baseAddress + offset
            offset += mine.count
        }
        slots.withUnsafeBufferPointer { ReductionTree.finish($0, count: mine.count, kernels: engine.kernels) }
        communicator.allGather(
            sending: UnsafeRawBufferPointer(start: slots[0], count: mine.count * floats),
            receiving: UnsafeMutableRawBufferPointer(start: reduced.baseAddress, count: count * floats),
            counts: plan.chunks.map { $0.count * floats })
    }

    /// Every shard's loss from the rank that ran it.
    private func gatherLosses(_ plan: Plan) {
        let share = plan.shares[communicator.rank]
        let doubles = MemoryLayout<Double>.stride
        let mine = Array(losses[share])
        losses.withUnsafeMutableBytes { all in
            mine.withUnsafeBytes { mine in
                communicator.allGather(sending: mine, receiving: all, counts: plan.shares.map { $0.count * doubles })
            }
        }
    }
}
