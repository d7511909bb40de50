/// The processes of a data-parallel run (MPI's ranks), and the three
/// collective operations a training run needs from them.
///
/// Every process of a run holds the whole model and draws the same
/// mini-batches. Each computes the gradients of its share of a mini-batch's
/// shards, and the processes exchange partial sums so that every one of them
/// finishes the same fixed reduction tree over the shards (see
/// ``Trainer``). The weights after any number of steps are then
/// bit-identical on every process, whatever the process and thread counts,
/// and equal to those of one process training alone on the same data and
/// seed.
///
/// Every process calls the collectives in the same order with matching
/// counts; a process that cannot takes the whole run down (MPI's default
/// error handler). Counts are in bytes; parts follow one another in rank
/// order. `RNNKitMPI`, built with the package's `MPI` trait, provides an
/// implementation over MPI.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index, `0..<size`. Process 0 reports progress and
    /// writes the run's files.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Sends `sendCounts[r]` bytes of `sending` to each rank `r` and
    /// receives `receiveCounts[r]` bytes from each into `receiving`
    /// (`MPI_Alltoallv`).
    func exchange(
        sending: UnsafeRawBufferPointer, sendCounts: [Int], receiving: UnsafeMutableRawBufferPointer,
        receiveCounts: [Int])
    /// Gathers `counts[r]` bytes from each rank `r` into every rank's
    /// `receiving`; this rank's part is `sending` (`MPI_Allgatherv`).
    func allGather(sending: UnsafeRawBufferPointer, receiving: UnsafeMutableRawBufferPointer, counts: [Int])
    /// Replaces every rank's `buffer` with `root`'s (`MPI_Bcast`).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int)
}

extension Communicator {
    /// Whether this process reports and writes files: rank 0.
    public var isLead: Bool { rank == 0 }
}

/// A run of one process: the default.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func exchange(
        sending: UnsafeRawBufferPointer, sendCounts: [Int], receiving: UnsafeMutableRawBufferPointer,
        receiveCounts: [Int]
    ) {
        receiving.copyMemory(from: UnsafeRawBufferPointer(rebasing: sending.prefix(sendCounts[0])))
    }

    public func allGather(sending: UnsafeRawBufferPointer, receiving: UnsafeMutableRawBufferPointer, counts: [Int]) {
        receiving.copyMemory(from: UnsafeRawBufferPointer(rebasing: sending.prefix(counts[0])))
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {}
}
