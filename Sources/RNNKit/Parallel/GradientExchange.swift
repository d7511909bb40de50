import RNNKernels

/// Finishes the fixed reduction tree over a mini-batch's shards across the
/// processes of a run, so that every process ends with the gradient and the
/// loss that one process would have summed alone, to the bit.
///
/// One process's reduction (`Kernels.treeReduce`) adds shard buffer `i + s`
/// into buffer `i` for every `i` that is a multiple of `2s`, for `s` = 1, 2,
/// 4, ...: each sum is a node of a binary tree whose shape depends on the
/// shard count only. Here each process runs a contiguous range of the shards
/// and cuts it into aligned sub-trees (nodes) of that tree, which it reduces
/// locally as one process would. The nodes' partial sums are then scattered
/// by chunk: the owner of each chunk of the gradient receives every node's
/// part of it and makes the tree's remaining additions, those between nodes,
/// in the tree's order; an all-gather hands every process the whole sum.
/// With one node per process, each sends and receives about twice the
/// gradient per step, as a ring all-reduce does. `MPI_Allreduce` cannot
/// serve: it may add in any order.
final class GradientExchange {
    let communicator: any Communicator
    /// Floats per gradient.
    let count: Int

    /// How a mini-batch of `shardCount` shards is spread over the processes.
    struct Plan {
        let shardCount: Int
        /// The shards each rank runs: contiguous and as even as shards allow.
        let shares: [Range<Int>]
        /// Each rank's share cut into aligned sub-trees of the reduction tree.
        let nodes: [[Range<Int>]]
        /// The gradient floats each rank finishes the tree for.
        let chunks: [Range<Int>]

        init(shardCount: Int, ranks: Int, count: Int) {
            self.shardCount = shardCount
            shares = (0..<ranks).map { rank in rank * shardCount / ranks..<(rank + 1) * shardCount / ranks }
            nodes = shares.map { Self.subtrees(of: $0, shardCount: shardCount) }
            // Chunks start on cache lines, so the owners' additions stay aligned.
            let starts = (0..<ranks).map { (count * $0 / ranks) & ~15 } + [count]
            chunks = (0..<ranks).map { starts[$0]..<starts[$0 + 1] }
        }

        /// Cuts `share` into the largest nodes of the tree over `shardCount`
        /// shards that it holds whole: a node of level `k` covers the shards
        /// `[i, i + 2^k)`, `i` a multiple of `2^k`, that exist.
        static func subtrees(of share: Range<Int>, shardCount: Int) -> [Range<Int>] {
            var nodes: [Range<Int>] = []
            var start = share.lowerBound
            while start < share.upperBound {
                var size = 1
                while start % (2 * size) == 0, size < shardCount,
                    min(start + 2 * size, shardCount) <= share.upperBound
                {
                    size *= 2
                }
                nodes.append(start..<min(start + size, shardCount))
                start += size
            }
            return nodes
        }
    }

    private let kernels: Kernels
    private var plan: Plan?
    /// The summed gradient, the same on every rank after `reduce`.
    let reduced: AlignedBuffer
    private var sending = AlignedBuffer(count: 0)
    private var receiving = AlignedBuffer(count: 0)
    /// Every shard's loss, in shard order.
    private var losses: [Double] = []
    /// The rows of this process's share of the current mini-batch.
    private var shareRows: [Int] = []
    private var allRows: [Int] = []

    init(communicator: any Communicator, count: Int, kernels: Kernels) {
        self.communicator = communicator
        self.count = count
        self.kernels = kernels
        reduced = AlignedBuffer(count: count)
    }

    /// Bytes this process receives from the others per step for a
    /// mini-batch of `shardCount` shards: their nodes' parts of its chunk,
    /// the rest of the sum, and their shards' losses.
    func bytesReceived(shardCount: Int) -> Int {
        let plan = Plan(shardCount: shardCount, ranks: communicator.size, count: count)
        let rank = communicator.rank, mine = plan.chunks[rank].count
        let otherNodes = plan.nodes.indices.filter { $0 != rank }.reduce(0) { $0 + plan.nodes[$1].count }
        return MemoryLayout<Float>.stride * (otherNodes * mine + count - mine)
            + MemoryLayout<Double>.stride * (shardCount - plan.shares[rank].count)
    }

    /// Forward and backward over this process's share of `rows` of `batch`
    /// (all rows when nil), then the exchange.
    /// - Returns: the mini-batch's mean loss and its summed gradient, valid
    ///   until the next call.
    func forwardBackward(_ batch: SequenceBatch, rows: [Int]?, engine: Engine) throws(ModelError)
        -> (loss: Double, gradients: UnsafeMutablePointer<Float>)
    {
        // Every process must reach the exchange, so what one would refuse
        // inside the engine is refused here, by all.
        guard let targets = batch.targets else { throw .inputMismatch("a loss needs targets") }
        if let rows {
            guard !rows.isEmpty else { throw .inputMismatch("no rows selected") }
            if let bad = rows.first(where: { $0 < 0 || $0 >= batch.count }) {
                throw .inputMismatch("row \(bad) is outside the batch of \(batch.count)")
            }
        } else if allRows.count != batch.count {
            allRows = Array(0..<batch.count)
        }
        let rows = rows ?? allRows
        let shardCount = ShardScheduler.shardCount(rows: rows.count)
        if plan?.shardCount != shardCount { preparePlan(shardCount: shardCount) }
        let plan = plan!, rank = communicator.rank, share = plan.shares[rank]
        let normalizer = Engine.normalizer(
            batch, rows: rows, configuration: engine.model.configuration, loss: targets.loss)
        if !share.isEmpty {
            let first = ShardScheduler.shardRange(share.lowerBound, rows: rows.count).lowerBound
            let last = ShardScheduler.shardRange(share.upperBound - 1, rows: rows.count).upperBound
            shareRows.removeAll(keepingCapacity: true)
            shareRows.append(contentsOf: rows[first..<last])
            try engine.forwardBackwardShare(batch, rows: shareRows, normalizer: normalizer)
            let buffers = engine.shardGradients
            for node in plan.nodes[rank] {
                engine.scheduler.reduce(
                    buffers + (node.lowerBound - share.lowerBound), buffers: node.count, count: count)
            }
            pack(plan, buffers: buffers, share: share)
        }
        exchange(plan)
        return (gatherLoss(plan, engine: engine) / normalizer, reduced.baseAddress)
    }

    private func preparePlan(shardCount: Int) {
        let plan = Plan(shardCount: shardCount, ranks: communicator.size, count: count)
        let rank = communicator.rank
        let nodeCount = plan.nodes.reduce(0) { $0 + $1.count }
        if sending.count < plan.nodes[rank].count * count {
            sending = AlignedBuffer(count: plan.nodes[rank].count * count)
        }
        let received = nodeCount * plan.chunks[rank].count
        if receiving.count < received { receiving = AlignedBuffer(count: received) }
        losses = Array(repeating: 0, count: shardCount)
        self.plan = plan
    }

    /// Lays out each node's sum chunk by chunk, in the order of the ranks that own them.
    private func pack(_ plan: Plan, buffers: UnsafePointer<UnsafeMutablePointer<Float>>, share: Range<Int>) {
        var offset = 0
        for chunk in plan.chunks {
            for node in plan.nodes[communicator.rank] {
                let sum = buffers[node.lowerBound - share.lowerBound]
                (sending.baseAddress + offset).update(from: sum + chunk.lowerBound, count: chunk.count)
                offset += chunk.count
            }
        }
    }

    /// Scatters the nodes' sums by chunk, finishes the tree over this rank's
    /// chunk, and gathers every chunk of the sum into `reduced`.
    private func exchange(_ plan: Plan) {
        let rank = communicator.rank, ranks = communicator.size
        let mine = plan.chunks[rank]
        let floats = MemoryLayout<Float>.stride
        let sendCounts = plan.chunks.map { $0.count * plan.nodes[rank].count * floats }
        let receiveCounts = plan.nodes.map { $0.count * mine.count * floats }
        communicator.exchange(
            sending: UnsafeRawBufferPointer(start: sending.baseAddress, count: sendCounts.reduce(0, +)),
            sendCounts: sendCounts,
            receiving: UnsafeMutableRawBufferPointer(start: receiving.baseAddress, count: receiveCounts.reduce(0, +)),
            receiveCounts: receiveCounts)

        // Node sums by their first shard; the tree adds a node into the one
        // on its left at the stride of its own level, as one process would.
        var slots = [UnsafeMutablePointer<Float>?](repeating: nil, count: plan.shardCount)
        var offset = 0
        for source in 0..<ranks {
            for node in plan.nodes[source] {
                slots[node.lowerBound] = receiving.baseAddress + offset
                offset += mine.count
            }
        }
        var stride = 1
        while stride < plan.shardCount {
            var index = 0
            while index + stride < plan.shardCount {
                if let right = slots[index + stride] { kernels.add(right, into: slots[index]!, count: mine.count) }
                index += 2 * stride
            }
            stride *= 2
        }
        communicator.allGather(
            sending: UnsafeRawBufferPointer(start: slots[0], count: mine.count * floats),
            receiving: UnsafeMutableRawBufferPointer(start: reduced.baseAddress, count: count * floats),
            counts: plan.chunks.map { $0.count * floats })
    }

    /// The sum of every shard's loss, in shard order as one process adds them.
    private func gatherLoss(_ plan: Plan, engine: Engine) -> Double {
        let share = plan.shares[communicator.rank]
        let doubles = MemoryLayout<Double>.stride
        losses.withUnsafeMutableBytes { all in
            communicator.allGather(
                sending: UnsafeRawBufferPointer(start: engine.shardLosses.baseAddress, count: share.count * doubles),
                receiving: all, counts: plan.shares.map { $0.count * doubles })
        }
        var total = 0.0
        for loss in losses { total += loss }
        return total
    }
}
