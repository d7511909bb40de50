import CRNNSupport
import RNNKernels

/// Work that a team splits inside one step: disjoint parts of a range,
/// computed at once by the team's members.
protocol PartJob: AnyObject {
    /// Computes `part`, a slice of the count given to `WorkerTeam.forEachPart`.
    func runPart(_ part: Range<Int>, scratch: GEMMScratch)
}

/// The threads that share one shard's work: its lead, the members the
/// scheduler assigned when a batch has fewer shards than threads, and the
/// threads of teams that ran out of shards and came to help.
///
/// One member, the lead, walks the shard's layers, directions and timesteps as
/// a lone thread would. At each region that splits (a timestep's gate columns
/// and cell kernel, a weight-gradient GEMM's rows) it cuts the region into as
/// many parts as the team has threads at that moment, publishes it, every
/// member claims parts of it, and the lead goes on once all parts are done.
/// Alone, it runs each region as one part without publishing anything.
/// Members wait by spinning: on a virtual machine waking a sleeping thread
/// costs tens of microseconds, as much as a small batch's timestep.
///
/// Results do not depend on who computes a part nor on where parts are cut:
/// each part writes only its own slice, every element of it computed in the
/// same order as by a lone thread (see `GEMM`). So threads may join a team at
/// any time, and the part count may change from one region to the next.
///
/// Progress never depends on how many threads Dispatch runs at once: the
/// first thread to arrive leads, a thread only waits for a running lead, and
/// the lead only waits for parts that running members have claimed, so parts
/// of members that never start are left to the others.
final class WorkerTeam: @unchecked Sendable {
    /// Parts per region at most: one claim bit each in the state word.
    static let maximumParts = 32

    /// The lead's packing buffers, for the work it does alone.
    private(set) var scratch: GEMMScratch
    /// Four words on separate cache lines: whether a lead has arrived; the
    /// published region (`finished` bit, generation, part count, claim bits);
    /// the number of its parts done; the threads that have joined this run.
    private let words: UnsafeMutableRawPointer
    private var leadWord: UnsafeMutablePointer<UInt64> { words.assumingMemoryBound(to: UInt64.self) }
    private var stateWord: UnsafeMutablePointer<UInt64> { (words + 64).assumingMemoryBound(to: UInt64.self) }
    private var doneWord: UnsafeMutablePointer<UInt64> { (words + 128).assumingMemoryBound(to: UInt64.self) }
    private var joinedWord: UnsafeMutablePointer<UInt64> { (words + 192).assumingMemoryBound(to: UInt64.self) }

    /// The published region, written by the lead before it publishes and read
    /// by members only once they hold one of its parts.
    private var job: (any PartJob)?
    private var count = 0
    private var partLength = 0
    private var generation: UInt64 = 0

    private static let finished: UInt64 = 1 << 63
    private static let generationShift: UInt64 = 40
    private static let generationMask: UInt64 = (1 << 23) - 1

    init(scratch: GEMMScratch) {
        self.scratch = scratch
        words = .allocate(byteCount: 4 * 64, alignment: 64)
        words.initializeMemory(as: UInt64.self, repeating: 0, count: 4 * 8)
    }

    deinit { words.deallocate() }

    /// Readies the team for a parallel run; called while no thread runs.
    func prepare() {
        generation = 0
        leadWord.pointee = 0
        stateWord.pointee = 0
        doneWord.pointee = 0
        joinedWord.pointee = 0
    }

    /// Whether the team's lead has finished its work in this run.
    var hasFinished: Bool { rnn_atomic_load_acquire(stateWord) & Self.finished != 0 }

    /// Works for the team on the calling thread: the first thread to arrive
    /// runs `lead`, the others help with its regions until it finishes.
    /// Returns at once when the team has already finished.
    func join(scratch: GEMMScratch, lead: (WorkerTeam) -> Void) {
        guard !hasFinished else { return }
        let arrival = Int(rnn_atomic_add_release(joinedWord, 1))
        if rnn_atomic_compare_exchange(leadWord, 0, 1) != 0 {
            self.scratch = scratch
            lead(self)
            rnn_atomic_store_release(stateWord, Self.finished)
        } else {
            serve(member: arrival, scratch: scratch)
        }
    }

    /// Runs `job.runPart` over `0..<count` cut into parts of whole `granule`s,
    /// one per thread in the team at most, and returns when all are done.
    /// Called by the lead; alone, it runs the whole range as one part.
    func forEachPart(of count: Int, granule: Int, _ job: any PartJob) {
        let granules = (count + granule - 1) / granule
        let threads = Int(rnn_atomic_load_acquire(joinedWord))
        let parts = min(threads, Self.maximumParts, granules)
        guard parts > 1 else {
            if count > 0 { job.runPart(0..<count, scratch: scratch) }
            return
        }
        partLength = (granules + parts - 1) / parts * granule
        let partCount = UInt64((count + partLength - 1) / partLength)
        self.job = job
        self.count = count
        generation = (generation + 1) & Self.generationMask
        doneWord.pointee = 0
        rnn_atomic_store_release(stateWord, generation << Self.generationShift | partCount << 32)
        claimParts(preferring: 0, scratch: scratch)
        var spins = 0
        while rnn_atomic_load_acquire(doneWord) < partCount { Self.backOff(&spins) }
        self.job = nil
    }

    /// A helper's loop: claim parts of each region the lead publishes until it finishes.
    private func serve(member: Int, scratch: GEMMScratch) {
        var spins = 0
        while true {
            let state = rnn_atomic_load_acquire(stateWord)
            if state & Self.finished != 0 { return }
            if Self.unclaimedParts(state) != 0 {
                claimParts(preferring: member, scratch: scratch)
                spins = 0
            } else {
                Self.backOff(&spins)
            }
        }
    }

    /// Claims and computes parts of the published region until none is left,
    /// taking part `preferred` first when it is free, so that a member keeps
    /// the same slice of the weights in its cache from one timestep to the next.
    private func claimParts(preferring preferred: Int, scratch: GEMMScratch) {
        var state = rnn_atomic_load_acquire(stateWord)
        while state & Self.finished == 0 {
            let unclaimed = Self.unclaimedParts(state)
            guard unclaimed != 0 else { return }
            let partCount = Int(state >> 32 & 0xff)
            let preferredBit = UInt64(1) << (preferred % partCount)
            let bit = unclaimed & preferredBit != 0 ? preferredBit : unclaimed & (0 &- unclaimed)
            if rnn_atomic_compare_exchange(stateWord, state, state | bit) != 0 {
                let first = bit.trailingZeroBitCount * partLength
                job!.runPart(first..<min(count, first + partLength), scratch: scratch)
                rnn_atomic_add_release(doneWord, 1)
            }
            state = rnn_atomic_load_acquire(stateWord)
        }
    }

    private static func unclaimedParts(_ state: UInt64) -> UInt64 {
        let partCount = state >> 32 & 0xff
        return ~state & ((1 << partCount) - 1)
    }

    /// One turn of a spin wait; now and then it lets another thread have the
    /// core, in case the one being waited for is not running.
    @inline(__always)
    private static func backOff(_ spins: inout Int) {
        spins += 1
        if spins % 64 == 0 { rnn_yield_thread() } else { rnn_spin_pause() }
    }
}
