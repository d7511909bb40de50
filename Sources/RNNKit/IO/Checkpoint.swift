import Foundation
import RNNKernels

/// The whole state of a training run: weights, optimiser state, and whatever
/// the training loop needs to continue exactly where it stopped (its position
/// in the data, its loss history).
///
/// Stored as one safetensors file: the model's tensors under their PyTorch
/// names, the optimiser's under `optimizer.<state>.<parameter>` (`exp_avg`,
/// `exp_avg_sq`, `momentum_buffer`, as in PyTorch's optimiser state), the
/// loop's series under `history.<name>`, and scalars in the metadata.
/// `write(to:)` is atomic, so a crash never leaves a torn checkpoint.
public struct Checkpoint: Sendable {
    public var file: SafetensorsFile

    /// The training loop's own position and settings, restored verbatim.
    public var progress: [String: String] {
        file.metadata.filter { $0.key.hasPrefix("progress.") }.reduce(into: [:]) {
            $0[String($1.key.dropFirst(9))] = $1.value
        }
    }

    /// A loop series saved with the checkpoint (`history.<name>`).
    public func history(_ name: String) -> [Float] { (try? file.floats("history.\(name)")) ?? [] }

    public init(contentsOf url: URL) throws {
        file = try SafetensorsFile(contentsOf: url)
        guard file.metadata["format"] == "rnnkit-checkpoint" else {
            throw ModelError.metadata(
                key: "format", problem: "is not rnnkit-checkpoint: this is not a checkpoint file", source: file.source)
        }
    }

    init(file: SafetensorsFile) { self.file = file }

    /// The model as it was at the checkpoint.
    public func model() throws -> Model {
        let parameters = file.tensors.filter { name, _ in !name.hasPrefix("optimizer.") && !name.hasPrefix("history.") }
        let metadata = file.metadata.filter {
            !$0.key.hasPrefix("progress.") && !$0.key.hasPrefix("optimizer")
                && !$0.key.hasPrefix("schedule") && $0.key != "format"
        }
        return try Model(file: SafetensorsFile(metadata: metadata, tensors: parameters, source: file.source))
    }

    public func write(to url: URL) throws { try file.write(to: url) }
}

extension Trainer {
    /// A checkpoint of this trainer's model and optimiser, with the loop's
    /// `progress` entries and `history` series.
    public func checkpoint(progress: [String: String] = [:], history: [String: [Float]] = [:]) -> Checkpoint {
        var file = model.safetensors(extraMetadata: [:])
        file.metadata["format"] = "rnnkit-checkpoint"
        file.metadata["optimizer"] = optimizer.description
        file.metadata["optimizer_step"] = String(stepCount)
        if schedule != .constant {
            file.metadata["schedule"] = schedule.description
            file.metadata["schedule_state"] = rateScheduler.stateDescription
        }
        for (key, value) in progress { file.metadata["progress.\(key)"] = value }
        for (name, buffer) in optimizerBuffers {
            for entry in model.layout.entries {
                let values = Array(UnsafeBufferPointer(start: buffer.baseAddress + entry.offset, count: entry.count))
                file.tensors["optimizer.\(name).\(entry.name)"] = Tensor(floats: values, shape: entry.shape)
            }
        }
        for (name, values) in history {
            file.tensors["history.\(name)"] = Tensor(floats: values, shape: [values.count])
        }
        return Checkpoint(file: file)
    }

    /// Restores the optimiser and schedule state saved in `checkpoint` (the
    /// model's weights come with `Checkpoint.model()`). The optimiser and the
    /// schedule must be the same kind and settings.
    public func restoreOptimizer(from checkpoint: Checkpoint) throws {
        let source = checkpoint.file.source
        guard checkpoint.file.metadata["optimizer"] == optimizer.description else {
            throw ModelError.metadata(
                key: "optimizer",
                problem:
                    "is \(checkpoint.file.metadata["optimizer"] ?? "missing"), but this run uses "
                    + "\(optimizer.description)",
                source: source)
        }
        // A step count no run reaches in practice, far from where counting on overflows.
        guard let text = checkpoint.file.metadata["optimizer_step"], let step = Int(text),
            (0...(1 << 48)).contains(step)
        else {
            throw ModelError.metadata(key: "optimizer_step", problem: "must be an integer in 0...2^48", source: source)
        }
        // Checkpoints of constant-rate runs carry no schedule.
        let savedSchedule = checkpoint.file.metadata["schedule"] ?? LearningRateSchedule.constant.description
        guard savedSchedule == schedule.description else {
            throw ModelError.metadata(
                key: "schedule", problem: "is \(savedSchedule), but this run uses \(schedule)", source: source)
        }
        var scheduler = LearningRateScheduler(schedule: schedule, baseRate: Double(optimizer.learningRate))
        if schedule != .constant {
            guard let text = checkpoint.file.metadata["schedule_state"], scheduler.restore(text) else {
                throw ModelError.metadata(
                    key: "schedule_state", problem: "must be 'epoch=N lr=X best=X bad_epochs=N' with a finite lr >= 0",
                    source: source)
            }
        }
        for (name, buffer) in optimizerBuffers {
            for entry in model.layout.entries {
                let key = "optimizer.\(name).\(entry.name)"
                let values = try checkpoint.file.floats(key, shape: entry.shape)
                if let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw ModelError.nonFiniteParameter(name: key, element: bad, value: values[bad], source: source)
                }
                values.withUnsafeBufferPointer {
                    (buffer.baseAddress + entry.offset).update(from: $0.baseAddress!, count: entry.count)
                }
            }
        }
        restoreStepCount(step)
        restoreScheduler(scheduler)
    }
}
