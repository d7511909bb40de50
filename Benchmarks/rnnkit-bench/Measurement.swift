import Foundation
import RNNKit

#if MPI
    import RNNKitMPI
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one shape measured, in the child process that ran it.
struct ShapeMeasurement: Codable, Equatable {
    /// Timed training steps and their total and fastest wall-clock seconds.
    var trainingSteps: Int
    var trainingSeconds: Double
    var fastestStepSeconds: Double
    /// Timed forward-only passes, when inference was measured.
    var inferenceRuns: Int?
    var inferenceSeconds: Double?
    /// The child's peak resident set after training (before inference runs).
    var peakMemoryBytes: Int
    /// The child's peak resident set before the model and data existed.
    var baselineMemoryBytes: Int
    /// Mean loss of the last step: finite when training ran as it should.
    var finalLoss: Double
    /// The instruction set the model's kernels ran (`Model.kernelSelection`).
    var instructionSet: String
    /// With `--ranks`: the processes that shared each step, and the bytes
    /// rank 0 received from the others per step.
    var ranks: Int?
    var bytesReceivedPerStep: Int?

    var stepSeconds: Double { trainingSeconds / Double(trainingSteps) }
    var inferenceRunSeconds: Double? {
        guard let inferenceRuns, let inferenceSeconds, inferenceRuns > 0 else { return nil }
        return inferenceSeconds / Double(inferenceRuns)
    }
}

/// Times RNNKit on one shape, in this process.
enum Measurement {
    static let warmupSteps = 3
    static let minimumTimedSteps = 3

    /// Trains a freshly initialised model on random data, then (optionally)
    /// times inference on the same batch.
    static func run(_ shape: BenchShape, threads: Int, minTime: Double, inference: Bool) throws(ModelError)
        -> ShapeMeasurement
    {
        let baseline = ResidentMemory.peakBytes()
        let model = try Model(shape.configuration, seed: 0)
        let batch = randomBatch(shape, seed: 1)
        var training = Timing()
        var loss = 0.0
        let communicator = processes
        let trainer = Trainer(
            model: model, optimizer: .sgd(learningRate: 1e-3), threads: threads, communicator: communicator)
        training = try timeRepeatedly(minTime: minTime, agreeing: communicator) { () throws(ModelError) in
            loss = try trainer.step(batch).loss
        }
        let peak = ResidentMemory.peakBytes()
        var forward: Timing?
        if inference {
            let predictor = Predictor(model: model, threads: threads)
            forward = try timeRepeatedly(minTime: minTime) { () throws(ModelError) in
                _ = try predictor.outputs(for: batch)
            }
        }
        return ShapeMeasurement(
            trainingSteps: training.count, trainingSeconds: training.seconds,
            fastestStepSeconds: training.fastest,
            inferenceRuns: forward?.count, inferenceSeconds: forward?.seconds,
            peakMemoryBytes: peak, baselineMemoryBytes: baseline, finalLoss: loss,
            instructionSet: model.kernelSelection.instructionSet.rawValue,
            ranks: communicator.size > 1 ? communicator.size : nil,
            bytesReceivedPerStep: communicator.size > 1 ? trainer.bytesReceivedPerStep(rows: shape.batch) : nil)
    }

    /// The MPI job this child was launched into by `--ranks`, or this process alone.
    static var processes: any Communicator {
        #if MPI
            if let world = MPICommunicator.launched() { return world }
        #endif
        return SingleProcess()
    }

    /// Standard-normal inputs `[B, T, I]` and targets `[B, T, H]`, as the anchor's `torch.randn`.
    static func randomBatch(_ shape: BenchShape, seed: UInt64) -> SequenceBatch {
        var generator = SeededGenerator(seed: seed)
        let positions = shape.batch * shape.timeSteps
        let inputs = (0..<positions * shape.inputSize).map { _ in generator.normal() }
        let targets = (0..<positions * shape.hiddenSize).map { _ in generator.normal() }
        return SequenceBatch(
            count: shape.batch, timeSteps: shape.timeSteps, inputs: .features(inputs),
            targets: .values(targets))
    }

    struct Timing {
        var count = 0
        var seconds = 0.0
        var fastest = Double.infinity
    }

    /// Runs `body` `warmupSteps` times untimed, then times it until `minTime`
    /// seconds have passed and at least `minimumTimedSteps` ran; with several
    /// processes, by rank 0's clock, so that all run the same steps.
    static func timeRepeatedly<E: Error>(
        minTime: Double, agreeing communicator: any Communicator = SingleProcess(), _ body: () throws(E) -> Void
    ) throws(E) -> Timing {
        for _ in 0..<warmupSteps { try body() }
        let clock = ContinuousClock()
        let start = clock.now
        var timing = Timing()
        var last = start
        repeat {
            try body()
            let now = clock.now
            timing.count += 1
            timing.fastest = min(timing.fastest, seconds(last.duration(to: now)))
            timing.seconds = seconds(start.duration(to: now))
            last = now
            var more: Int32 = timing.seconds < minTime || timing.count < minimumTimedSteps ? 1 : 0
            if communicator.size > 1 { withUnsafeMutableBytes(of: &more) { communicator.broadcast($0, root: 0) } }
            if more == 0 { return timing }
        } while true
    }

    static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}

/// The process's high-water resident memory, from `getrusage`.
enum ResidentMemory {
    static func peakBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
            guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
            return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
        #else
            guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
            return Int(usage.ru_maxrss)  // bytes on Darwin
        #endif
    }
}
