import RNNKernels

/// The fixed pairwise tree that sums a mini-batch's shard gradients, taken
/// apart so that parts of it can be summed at different times (micro-batches
/// of an accumulated step) or in different processes (`GradientSum`).
///
/// One pass (`Kernels.treeReduce`) adds shard buffer `i + s` into buffer `i`
/// for every `i` that is a multiple of `2s`, for `s` = 1, 2, 4, ...: each sum
/// is a node of a binary tree whose shape depends on the shard count only. A
/// node of level `k` covers the shards `[i, i + 2^k)`, `i` a multiple of
/// `2^k`, cut at the shard count. Whatever sums the nodes, and in whatever
/// order nodes are finished, each node's value is its two children added in
/// the same way, so the root has the bits of one pass.
enum ReductionTree {
    /// Cuts `shards` into the largest nodes of the tree over `shardCount`
    /// shards that it holds whole, in shard order.
    static func subtrees(of shards: Range<Int>, shardCount: Int) -> [Range<Int>] {
        var nodes: [Range<Int>] = []
        var start = shards.lowerBound
        while start < shards.upperBound {
            var size = 1
            while start % (2 * size) == 0, size < shardCount, min(start + 2 * size, shardCount) <= shards.upperBound {
                size *= 2
            }
            nodes.append(start..<min(start + size, shardCount))
            start += size
        }
        return nodes
    }

    /// Finishes the tree over `count` floats from the sums of nodes that
    /// cover every shard: `slots[i]` holds the sum of the node that starts at
    /// shard `i`, nil inside a node. The root ends in `slots[0]`.
    static func finish(
        _ slots: UnsafeBufferPointer<UnsafeMutablePointer<Float>?>, count: Int, kernels: Kernels
    ) {
        var stride = 1
        while stride < slots.count {
            var index = 0
            while index + stride < slots.count {
                // A node starting at `index + stride` is the right child of the one at `index`.
                if let right = slots[index + stride] { kernels.add(right, into: slots[index]!, count: count) }
                index += 2 * stride
            }
            stride *= 2
        }
    }
}

/// The sums of consecutive nodes of the reduction tree, kept in buffers of
/// their own and merged with their siblings as soon as both are complete:
/// a mini-batch accumulated over micro-batches holds at most about
/// `log2(shards) + 2` gradient buffers, whatever the number of micro-batches.
final class SubtreeSums {
    /// Floats per gradient.
    let count: Int
    private let kernels: Kernels
    /// The shard count of the whole tree.
    private var shardCount = 0
    /// Where the first node starts.
    private var first = 0
    /// The nodes summed so far, in shard order, none a sibling of the next.
    private(set) var nodes: [(shards: Range<Int>, sum: AlignedBuffer)] = []
    private var spare: [AlignedBuffer] = []

    init(count: Int, kernels: Kernels) {
        self.count = count
        self.kernels = kernels
    }

    /// Forgets every node, for a tree of `shardCount` shards whose nodes
    /// will come from shard `first` on.
    func reset(shardCount: Int, from first: Int = 0) {
        self.shardCount = shardCount
        self.first = first
        spare += nodes.map(\.sum)
        nodes.removeAll(keepingCapacity: true)
    }

    /// Takes the sum of the node `shards`, which starts where the last one
    /// ended, from `sum`.
    func add(_ shards: Range<Int>, sum: UnsafePointer<Float>) {
        precondition(shards.lowerBound == (nodes.last?.shards.upperBound ?? first), "nodes out of order")
        let buffer = spare.popLast() ?? AlignedBuffer(count: count)
        buffer.baseAddress.update(from: sum, count: count)
        nodes.append((shards, buffer))
        while nodes.count >= 2 {
            let left = nodes[nodes.count - 2], right = nodes[nodes.count - 1]
            // Siblings: a whole left node of 2^k shards from a multiple of
            // 2^(k+1), and the complete node to its right (cut at the end).
            let size = left.shards.count
            guard size.nonzeroBitCount == 1, left.shards.lowerBound % (2 * size) == 0,
                right.shards.upperBound == min(left.shards.lowerBound + 2 * size, shardCount)
            else { break }
            kernels.add(right.sum.baseAddress, into: left.sum.baseAddress, count: count)
            spare.append(right.sum)
            nodes.removeLast(2)
            nodes.append((left.shards.lowerBound..<right.shards.upperBound, left.sum))
        }
    }

    /// The whole tree's sum, once the nodes cover every shard.
    func finish() -> UnsafeMutablePointer<Float> {
        precondition(first == 0 && nodes.last?.shards.upperBound == shardCount, "the nodes do not cover the shards")
        var slots = [UnsafeMutablePointer<Float>?](repeating: nil, count: shardCount)
        for node in nodes { slots[node.shards.lowerBound] = node.sum.baseAddress }
        slots.withUnsafeBufferPointer { ReductionTree.finish($0, count: count, kernels: kernels) }
        return nodes[0].sum.baseAddress
    }
}
