// Built with the package's MPI trait (`swift build --traits MPI`); without
// it this module is empty and the package needs no MPI library.
#if MPI
    import CMPI
    import Foundation
    import RNNKit

    /// The processes of an MPI job (`mpirun`, `srun`) as a ``Communicator``:
    /// `MPI_COMM_WORLD`, one rank per process.
    ///
    /// ```swift
    /// let world = MPICommunicator.world()
    /// var settings = TrainingRun.Settings(optimizer: .adam(learningRate: 2e-3), steps: 1000)
    /// settings.communicator = world
    /// let summary = try TrainingRun(settings: settings, batch: data).run(model: model)
    /// if world.isLead { try model.write(to: url) }
    /// ```
    ///
    /// MPI is initialised once per process, with calls from one thread at a
    /// time, and finalised when the process exits. A failed call ends the
    /// whole job (MPI's default error handler), so a rank that dies never
    /// leaves the others waiting. A collective moves at most 2 GiB per process.
    public final class MPICommunicator: Communicator, @unchecked Sendable {
        public let rank: Int
        public let size: Int
        private let world = rnn_mpi_comm_world()

        private static let shared: MPICommunicator = {
            var initialised: Int32 = 0
            MPI_Initialized(&initialised)
            if initialised == 0 {
                var provided: Int32 = 0
                MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided)
                atexit { MPICommunicator.finalize() }
            }
            return MPICommunicator()
        }()

        private init() {
            var rank: Int32 = 0, size: Int32 = 0
            MPI_Comm_rank(rnn_mpi_comm_world(), &rank)
            MPI_Comm_size(rnn_mpi_comm_world(), &size)
            self.rank = Int(rank)
            self.size = Int(size)
        }

        /// The job's processes, initialising MPI on first use.
        public static func world() -> MPICommunicator { shared }

        /// The job's processes when a launcher started this one (`mpirun`,
        /// `mpiexec`, `srun`: it leaves its mark in the environment); nil for a
        /// process started by hand, which then never touches MPI.
        public static func launched() -> MPICommunicator? {
            let environment = ProcessInfo.processInfo.environment
            let marks = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"]
            return marks.contains { environment[$0] != nil } ? world() : nil
        }

        /// Ends every process of the job with `status`: for an error that
        /// this process alone may have met, where the others would wait for
        /// it forever.
        public func abort(status: Int32) -> Never {
            MPI_Abort(world, status)
            exit(status)
        }

        private static func finalize() {
            var finalised: Int32 = 0
            MPI_Finalized(&finalised)
            if finalised == 0 { MPI_Finalize() }
        }

        public func exchange(
            sending: UnsafeRawBufferPointer, sendCounts: [Int], receiving: UnsafeMutableRawBufferPointer,
            receiveCounts: [Int]
        ) {
            let sendCounts = Self.counts(sendCounts), receiveCounts = Self.counts(receiveCounts)
            MPI_Alltoallv(
                sending.baseAddress, sendCounts, Self.offsets(sendCounts), rnn_mpi_byte(),
                receiving.baseAddress, receiveCounts, Self.offsets(receiveCounts), rnn_mpi_byte(), world)
        }

        public func allGather(
            sending: UnsafeRawBufferPointer, receiving: UnsafeMutableRawBufferPointer, counts: [Int]
        ) {
            let counts = Self.counts(counts)
            MPI_Allgatherv(
                sending.baseAddress, counts[rank], rnn_mpi_byte(),
                receiving.baseAddress, counts, Self.offsets(counts), rnn_mpi_byte(), world)
        }

        public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {
            MPI_Bcast(buffer.baseAddress, Self.counts([buffer.count])[0], rnn_mpi_byte(), Int32(root), world)
        }

        /// MPI's `int` counts.
        private static func counts(_ counts: [Int]) -> [Int32] {
            counts.map {
                guard let count = Int32(exactly: $0) else {
                    fatalError("an MPI message part of \($0) bytes is over MPI's 2 GiB limit")
                }
                return count
            }
        }

        private static func offsets(_ counts: [Int32]) -> [Int32] {
            var offsets: [Int32] = [], total: Int32 = 0
            for count in counts {
                offsets.append(total)
                total += count
            }
            return offsets
        }
    }
#endif
