import Dispatch
import CRNNSupport
import RNNKernels

/// Splits each mini-batch into fixed-size shards and runs them on worker
/// threads with `DispatchQueue.concurrentPerform`.
///
/// Results never depend on the thread count: shard boundaries depend only on
/// the batch size, each shard writes its own gradient buffer, and the
/// buffers are summed through a fixed pairwise tree whose shape depends only
/// on the shard count. Threads only decide who computes what.
final class ShardScheduler: @unchecked Sendable {
    /// Rows per shard: large enough for efficient recurrent GEMMs, small enough
    /// that a 64-row batch still splits across two cores.
    static let shardRows = 32

    let threads: Int
    /// One GEMM packing scratch per worker thread.
    private let scratches: [GEMMScratch]

    init(threads: Int) {
        self.threads = max(1, threads)
        scratches = (0..<self.threads).map { _ in GEMMScratch() }
    }

    static func shardCount(rows: Int) -> Int { (rows + shardRows - 1) / shardRows }

    static func shardRange(_ shard: Int, rows: Int) -> Range<Int> {
        shard * shardRows..<min(rows, (shard + 1) * shardRows)
    }

    /// Runs `work(shard, scratch)` for every shard, on up to `threads` threads,
    /// with denormals flushed to zero on each.
    func forEachShard(_ count: Int, _ work: (Int, GEMMScratch) -> Void) {
        let workers = min(threads, count)
        withoutActuallyEscaping(work) { work in
            let body = UncheckedSendable(work)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let saved = rnn_enable_flush_denormals()
                defer { rnn_restore_fp_state(saved) }
                var shard = worker
                while shard < count {
                    body.value(shard, scratches[worker])
                    shard += workers
                }
            }
        }
    }

    /// Runs `work(range)` over `count` elements split into cache-line aligned
    /// chunks, one per thread. For element-wise passes whose result does not
    /// depend on the split.
    func forEachChunk(of count: Int, _ work: (Range<Int>) -> Void) {
        let alignment = 16
        let chunk = ((count + threads - 1) / threads + alignment - 1) / alignment * alignment
        let chunks = chunk == 0 ? 0 : (count + chunk - 1) / chunk
        guard chunks > 1 else {
            if count > 0 { work(0..<count) }
            return
        }
        withoutActuallyEscaping(work) { work in
            let body = UncheckedSendable(work)
            DispatchQueue.concurrentPerform(iterations: chunks) { index in
                body.value(index * chunk..<min(count, (index + 1) * chunk))
            }
        }
    }

    /// Sums the first `buffers` of `pointers` (each `count` floats) into
    /// `pointers[0]` with the fixed tree.
    func reduce(_ pointers: UnsafePointer<UnsafeMutablePointer<Float>>, buffers: Int, count: Int) {
        guard buffers > 1 else { return }
        let base = UncheckedSendable(pointers)
        forEachChunk(of: count) { range in
            VectorOps.treeReduce(base.value, count: buffers, range: range)
        }
    }
}

/// Hands a value the compiler cannot prove thread-safe to concurrent workers
/// that only read it or write disjoint parts of what it points to.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
