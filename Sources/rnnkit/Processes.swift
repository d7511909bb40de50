import Foundation
import RNNKit

#if MPI
    import RNNKitMPI
#endif

/// The processes a `train` runs as: the ranks of an MPI job when a launcher
/// (`mpirun`, `srun`) started this one and the tool was built with the MPI
/// trait, one process otherwise. Every rank trains; rank 0 alone prints and
/// writes files.
enum Processes {
    nonisolated(unsafe) private(set) static var communicator: any Communicator = SingleProcess()

    /// Joins the MPI job this process was launched into, if any; the other
    /// ranks' standard output goes to /dev/null.
    static func join() {
        #if MPI
            guard let world = MPICommunicator.launched(), world.size > 1 else { return }
            communicator = world
            if !world.isLead {
                let null = open("/dev/null", O_WRONLY)
                dup2(null, STDOUT_FILENO)
                close(null)
            }
        #endif
    }

    static var isLead: Bool { communicator.isLead }

    /// `message` on standard error; the other ranks name themselves.
    static func report(_ message: String) {
        let prefix = communicator.isLead ? "" : "(rank \(communicator.rank)) "
        FileHandle.standardError.write(Data((prefix + message + "\n").utf8))
    }

    /// Exits with `status`; with several processes, ends them all, for an
    /// error this one may have met alone would leave the others waiting.
    static func exit(_ status: Int32) -> Never {
        #if MPI
            if let world = communicator as? MPICommunicator, status != 0 { world.abort(status: status) }
        #endif
        Foundation.exit(status)
    }
}
