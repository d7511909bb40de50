import CRNNSupport
import RNNKernels

/// Work done shard by shard: forward and backward over a slice of a batch.
protocol ShardJob: AnyObject {
    /// Runs `shard` on `team`'s lead, which splits regions of each step
    /// across the team when it has more than one member.
    func runShard(_ shard: Int, team: WorkerTeam)
}

/// Element-wise work over a range of a flat array (the optimiser update).
protocol ChunkJob: AnyObject {
    func runChunk(_ range: Range<Int>)
}

/// Splits each mini-batch into fixed-size shards and runs them on worker
/// threads with Dispatch's concurrent perform.
///
/// The threads form one team per shard in flight: as many teams as shards,
/// up to the thread count. With at least as many shards as threads every
/// team starts as one thread; with fewer (a batch of 8 on 16 cores) a team's
/// extra members split each step of its shard (see `WorkerTeam`), so small
/// batches still use every core. A thread whose team has finished joins the
/// teams still running and splits their steps with them, so the step does
/// not wait on one team when shards do not divide evenly among the threads
/// (3 shards on 2 threads), when shards differ in length, or when a core
/// runs slower than the others.
///
/// Results never depend on the thread count: shard boundaries depend only on
/// the batch size, each shard writes its own gradient buffer, and the
/// buffers are summed through a fixed pairwise tree whose shape depends only
/// on the shard count. Inside a step, a part's every element is computed as
/// a lone thread would. Threads only decide who computes what.
///
/// A parallel run allocates nothing: the job is a stored reference and the
/// workers reach the scheduler through an unretained context pointer.
final class ShardScheduler: @unchecked Sendable {
    /// Rows per shard: large enough for efficient recurrent GEMMs, small enough
    /// that a 64-row batch still splits across two cores.
    static let shardRows = 32
    /// Floats per chunk of element-wise work (a multiple of a cache line).
    static let chunkSize = 1 << 14

    let threads: Int
    /// One GEMM packing scratch per worker thread.
    private let scratches: [GEMMScratch]
    /// The kernels the gradient reduction runs.
    private let kernels: Kernels
    /// One team per shard in flight; a pass uses the first `min(threads, shards)`.
    private let teams: [WorkerTeam]

    /// What the workers of the current parallel run do.
    private enum Task {
        case idle
        case shards(any ShardJob, count: Int, teams: Int)
        case chunks(any ChunkJob, count: Int)
        case reduce(UnsafePointer<UnsafeMutablePointer<Float>>, buffers: Int, count: Int)
    }

    private var task = Task.idle

    /// More threads than this are not started: each holds a few MiB of
    /// GEMM scratch, and results do not depend on the count anyway.
    static let maximumThreads = 256

    init(threads: Int, kernels: Kernels) {
        self.threads = min(max(1, threads), Self.maximumThreads)
        self.kernels = kernels
        scratches = (0..<self.threads).map { _ in GEMMScratch() }
        teams = scratches.map { WorkerTeam(scratch: $0) }
    }

    static func shardCount(rows: Int) -> Int { (rows + shardRows - 1) / shardRows }

    static func shardRange(_ shard: Int, rows: Int) -> Range<Int> {
        shard * shardRows..<min(rows, (shard + 1) * shardRows)
    }

    /// Runs `job.runShard` for every shard, on all `threads` threads, with
    /// denormals flushed to zero on each: team `t` runs shards `t`,
    /// `t + teams`, ...; worker `w` joins team `w % teams` first, then each
    /// of the others in turn until all have finished.
    func forEachShard(_ count: Int, _ job: any ShardJob) {
        let teamCount = min(threads, count)
        for team in 0..<teamCount { teams[team].prepare() }
        run(.shards(job, count: count, teams: teamCount), iterations: teamCount > 0 ? threads : 0)
    }

    /// Runs `job.runChunk` over `count` elements in fixed-size chunks spread
    /// over the threads. For element-wise passes whose result does not depend
    /// on the split.
    func forEachChunk(of count: Int, _ job: any ChunkJob) {
        run(.chunks(job, count: count), iterations: min(threads, chunkCount(count)))
    }

    /// Sums the first `buffers` of `pointers` (each `count` floats) into
    /// `pointers[0]` with the fixed tree, chunk by chunk in parallel.
    func reduce(_ pointers: UnsafePointer<UnsafeMutablePointer<Float>>, buffers: Int, count: Int) {
        guard buffers > 1 else { return }
        run(.reduce(pointers, buffers: buffers, count: count), iterations: min(threads, chunkCount(count)))
    }

    private func chunkCount(_ count: Int) -> Int { (count + Self.chunkSize - 1) / Self.chunkSize }

    private func run(_ task: Task, iterations: Int) {
        guard iterations > 0 else { return }
        self.task = task
        defer { self.task = .idle }
        if iterations == 1 {
            work(worker: 0, workers: 1)
            return
        }
        rnn_concurrent_perform(iterations, Unmanaged.passUnretained(self).toOpaque()) { context, worker in
            let scheduler = Unmanaged<ShardScheduler>.fromOpaque(context!).takeUnretainedValue()
            scheduler.work(worker: worker, workers: scheduler.workerCount)
        }
    }

    private var workerCount: Int {
        switch task {
        case .idle: 0
        case .shards: threads
        case .chunks(_, let count), .reduce(_, _, let count): min(threads, chunkCount(count))
        }
    }

    /// One worker's share: places in the teams, or chunks `worker`, `worker + workers`, ...
    private func work(worker: Int, workers: Int) {
        let saved = rnn_enable_flush_denormals()
        defer { rnn_restore_fp_state(saved) }
        switch task {
        case .idle:
            break
        case .shards(let job, let count, let teamCount):
            // A team is finished once this worker has visited it, so one round suffices.
            for offset in 0..<teamCount {
                let index = (worker + offset) % teamCount
                teams[index].join(scratch: scratches[worker]) { team in
                    for shard in stride(from: index, to: count, by: teamCount) { job.runShard(shard, team: team) }
                }
            }
        case .chunks(let job, let count):
            for chunk in stride(from: worker, to: chunkCount(count), by: workers) {
                job.runChunk(chunkRange(chunk, count))
            }
        case .reduce(let pointers, let buffers, let count):
            for chunk in stride(from: worker, to: chunkCount(count), by: workers) {
                kernels.treeReduce(pointers, count: buffers, range: chunkRange(chunk, count))
            }
        }
    }

    private func chunkRange(_ chunk: Int, _ count: Int) -> Range<Int> {
        chunk * Self.chunkSize..<min(count, (chunk + 1) * Self.chunkSize)
    }
}
