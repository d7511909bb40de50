import Foundation
import RNNKit
import Synchronization

/// SIGINT and SIGTERM during training: the handler only records the signal;
/// the training run, polling `cancellation`, finishes its step, writes a
/// checkpoint and stops.
enum Interrupts {
    private static let received = Atomic<Int32>(0)

    /// Holds once a signal has been received since `install`.
    static let cancellation = TrainingCancellation(polling: { pending != nil })

    static func install() {
        // A parent may have started us with these signals blocked.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM] {
            sigaddset(&signals, signal)
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in Interrupts.received.store(number, ordering: .relaxed) }
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    /// The signal received since `install`, if any.
    static var pending: Int32? {
        let value = received.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }
}

/// Training stopped by a signal after writing a checkpoint.
struct Interrupted: Error, CustomStringConvertible {
    let signal: Int32
    let checkpoint: URL
    var description: String {
        "interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM"); saved a checkpoint to \(checkpoint.path) "
            + "(continue with --resume \(checkpoint.path))"
    }
}
