import Foundation
import RNNKit

extension TrainCommand {
    // MARK: Shared by the .ts and CSV paths

    /// The .ts and CSV runs take seconds: they keep no checkpoints.
    func rejectCheckpointing() throws {
        try reject(["checkpoint", "checkpoint-every", "checkpoint-seconds", "resume"],
                   reason: "applies to text and tensor data sets; a .ts or CSV run takes seconds: run it again instead")
    }

    var maximumBadSteps: Int { get throws { try arguments.integer("max-bad-steps", default: 10)! } }
}
