import Foundation
import RNNKernels

/// The machine's FMA ceiling, measured by the bench at 1 and N threads.
struct PeakRates {
    /// GFLOP/s by thread count; absent when not measured (`--peak-time 0`).
    var gflops: [Int: Double] = [:]

    func at(threads: Int) -> Double? { gflops[threads] }
}

/// One shape's figures, derived from its child's measurement.
struct ShapeReport {
    var shape: BenchShape
    var threads: Int
    var measurement: ShapeMeasurement
    var peakOneThread: Double?
    var peakAllThreads: Double?

    var stepSeconds: Double { measurement.stepSeconds }
    var sequencesPerSecond: Double { Double(shape.batch) / stepSeconds }
    var gflops: Double { shape.trainingFlops / stepSeconds / 1e9 }
    var peakFraction: Double? { peakAllThreads.map { gflops / $0 } }
    /// The rate of the FLOPs the step executes (below the anchor's count).
    var executedGflops: Double { shape.executedTrainingFlops / stepSeconds / 1e9 }
    /// Executing faster than the FMA peak is impossible: the probe read low
    /// (another process took a core while it ran), so the share is not to be
    /// trusted. The anchor's count alone may exceed the peak, as it credits
    /// work that is not done.
    var peakReadLow: Bool { peakAllThreads.map { executedGflops > $0 } ?? false }
    /// The share of peak as the table shows it, marked where the peak read low.
    var peakPercent: String { peakFraction.map { format(100 * $0, 1) + (peakReadLow ? "!" : "") } ?? "-" }
    var inferenceSequencesPerSecond: Double? { measurement.inferenceRunSeconds.map { Double(shape.batch) / $0 } }
    var inferenceGflops: Double? { measurement.inferenceRunSeconds.map { shape.inferenceFlops / $0 / 1e9 } }

    var jsonLine: String {
        var line = JSONLine()
        line.add("bench", "rnnkit")
        line.add(shape, threads: threads)
        line.add("isa", measurement.instructionSet)
        line.add("step_ms", stepSeconds * 1e3, decimals: 3)
        line.add("step_ms_min", measurement.fastestStepSeconds * 1e3, decimals: 3)
        line.add("steps", measurement.trainingSteps)
        line.add("seq_per_s", sequencesPerSecond, decimals: 1)
        line.add("gflops", gflops, decimals: 2)
        line.add("executed_gflops", executedGflops, decimals: 2)
        line.add("peak_fraction", peakFraction, decimals: 4)
        line.add("peak_read_low", peakReadLow)
        line.add("inference_seq_per_s", inferenceSequencesPerSecond, decimals: 1)
        line.add("inference_gflops", inferenceGflops, decimals: 2)
        line.add("peak_memory_bytes", measurement.peakMemoryBytes)
        line.add("baseline_memory_bytes", measurement.baselineMemoryBytes)
        line.add("peak_gflops_1", peakOneThread, decimals: 2)
        line.add("peak_gflops_n", peakAllThreads, decimals: 2)
        line.add("final_loss", measurement.finalLoss, decimals: 6)
        if let ranks = measurement.ranks {
            line.add("ranks", ranks)
            line.add("bytes_received_per_step", measurement.bytesReceivedPerStep ?? 0)
        }
        return line.text
    }

    static let table = TextTable(columns: [
        .init("cell", width: 8, alignment: .left),
        .init("batch", width: 5), .init("seq", width: 4), .init("input", width: 5),
        .init("hidden", width: 6), .init("layers", width: 6), .init("threads", width: 7),
        .init("isa", width: 6, alignment: .left),
        .init("step ms", width: 9), .init("seq/s", width: 8), .init("GFLOP/s", width: 7),
        .init("% peak", width: 6), .init("infer seq/s", width: 11),
        .init("peak MiB", width: 8)
    ])

    var tableRow: String {
        Self.table.row([
            shape.cellName, "\(shape.batch)", "\(shape.timeSteps)", "\(shape.inputSize)",
            "\(shape.hiddenSize)", "\(shape.layers)", "\(threads)", measurement.instructionSet,
            format(stepSeconds * 1e3, 2), format(sequencesPerSecond, 1), format(gflops, 1),
            peakPercent,
            inferenceSequencesPerSecond.map { format($0, 1) } ?? "-",
            format(Double(measurement.peakMemoryBytes) / 1_048_576, 1)
        ])
            + (measurement.ranks.map { ranks in
                "\n    on \(ranks) ranks x \(threads) threads; rank 0 received "
                    + format(Double(measurement.bytesReceivedPerStep ?? 0) / 1_048_576, 2) + " MiB per step"
            } ?? "")
    }
}

/// One shape at one thread count in `--scaling`, against the same shape at one thread.
struct ScalingReport {
    var shape: ShapeReport
    var baseline: ShapeReport
    var peakOneThread: Double?
    var peak: Double?

    var threads: Int { shape.threads }
    var speedup: Double { shape.sequencesPerSecond / baseline.sequencesPerSecond }
    var efficiency: Double { speedup / Double(threads) }
    var peakSpeedup: Double? {
        guard let peak, let peakOneThread, peakOneThread > 0 else { return nil }
        return peak / peakOneThread
    }
    /// How much of the speedup the FMA units themselves allow was realised.
    var speedupOfPeakSpeedup: Double? { peakSpeedup.map { speedup / $0 } }

    var jsonLine: String {
        var line = JSONLine()
        line.add("bench", "rnnkit-scaling")
        line.add("shape", shape.shape.name)
        line.add("threads", threads)
        line.add("step_ms", shape.stepSeconds * 1e3, decimals: 3)
        line.add("seq_per_s", shape.sequencesPerSecond, decimals: 1)
        line.add("gflops", shape.gflops, decimals: 2)
        line.add("peak_fraction", shape.peakFraction, decimals: 4)
        line.add("peak_read_low", shape.peakReadLow)
        line.add("speedup", speedup, decimals: 3)
        line.add("efficiency", efficiency, decimals: 3)
        line.add("peak_gflops", peak, decimals: 2)
        line.add("peak_speedup", peakSpeedup, decimals: 3)
        line.add("speedup_of_peak_speedup", speedupOfPeakSpeedup, decimals: 3)
        return line.text
    }

    static let table = TextTable(columns: [
        .init("shape", width: 22, alignment: .left), .init("threads", width: 7),
        .init("step ms", width: 9), .init("seq/s", width: 8), .init("GFLOP/s", width: 7), .init("% peak", width: 6),
        .init("speedup", width: 7), .init("efficiency", width: 10),
        .init("FMA peak GFLOP/s", width: 16), .init("peak speedup", width: 12), .init("speedup / peak's", width: 16)
    ])

    var tableRow: String {
        Self.table.row([
            shape.shape.name, "\(threads)", format(shape.stepSeconds * 1e3, 2), format(shape.sequencesPerSecond, 1),
            format(shape.gflops, 1), shape.peakPercent,
            format(speedup, 2) + "x", format(100 * efficiency, 0) + "%",
            peak.map { format($0, 1) } ?? "-", peakSpeedup.map { format($0, 2) + "x" } ?? "-",
            speedupOfPeakSpeedup.map { format(100 * $0, 0) + "%" } ?? "-"
        ])
    }
}

/// One shape in `--kernels`: an instruction set and kernel choice, against
/// the generic kernels of the same instruction set.
struct KernelReport {
    var shape: BenchShape
    var threads: Int
    var instructionSet: InstructionSet
    /// "generic" or "specialized".
    var kernels: String
    var measurement: ShapeMeasurement
    var generic: ShapeMeasurement

    var sequencesPerSecond: Double { Double(shape.batch) / measurement.stepSeconds }
    var gflops: Double { shape.trainingFlops / measurement.stepSeconds / 1e9 }
    var speedup: Double { generic.stepSeconds / measurement.stepSeconds }

    var jsonLine: String {
        var line = JSONLine()
        line.add("bench", "rnnkit-kernels")
        line.add(shape, threads: threads)
        line.add("isa", instructionSet.rawValue)
        line.add("kernels", kernels)
        line.add("step_ms", measurement.stepSeconds * 1e3, decimals: 3)
        line.add("seq_per_s", sequencesPerSecond, decimals: 1)
        line.add("gflops", gflops, decimals: 2)
        line.add("speedup_vs_generic", speedup, decimals: 3)
        return line.text
    }

    static let table = TextTable(columns: [
        .init("shape", width: 22, alignment: .left), .init("isa", width: 8, alignment: .left),
        .init("kernels", width: 11, alignment: .left), .init("step ms", width: 9), .init("seq/s", width: 8),
        .init("GFLOP/s", width: 7), .init("vs generic", width: 10)
    ])

    var tableRow: String {
        Self.table.row([
            shape.name, instructionSet.rawValue, kernels, format(measurement.stepSeconds * 1e3, 2),
            format(sequencesPerSecond, 1), format(gflops, 1), format(speedup, 2) + "x"
        ])
    }
}

extension JSONLine {
    /// The shape's fields and the thread count, as every row reports them.
    mutating func add(_ shape: BenchShape, threads: Int) {
        add("shape", shape.name)
        add("cell", shape.cellName)
        add("batch", shape.batch)
        add("seq", shape.timeSteps)
        add("input", shape.inputSize)
        add("hidden", shape.hiddenSize)
        add("layers", shape.layers)
        add("threads", threads)
    }
}

// MARK: - Text

/// Fixed-width columns, so rows can be printed as they are measured.
struct TextTable {
    enum Alignment { case left, right }

    struct Column {
        var title: String
        var width: Int
        var alignment: Alignment
        init(_ title: String, width: Int, alignment: Alignment = .right) {
            self.title = title
            self.width = max(width, title.count)
            self.alignment = alignment
        }
    }

    var columns: [Column]

    var header: String {
        let titles = row(columns.map(\.title))
        return titles + "\n" + String(repeating: "-", count: titles.count)
    }

    func row(_ cells: [String]) -> String {
        zip(columns, cells).map { column, cell in
            let padding = String(repeating: " ", count: max(0, column.width - cell.count))
            return column.alignment == .left ? cell + padding : padding + cell
        }.joined(separator: "  ")
    }
}

func format(_ value: Double, _ decimals: Int) -> String {
    value.isFinite ? String(format: "%.\(decimals)f", value) : "-"
}

/// Prints a line and flushes, so a reader of a pipe sees each row as it is measured.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
