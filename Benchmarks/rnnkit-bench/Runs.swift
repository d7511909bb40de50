import Foundation
import RNNKernels

/// The two modes: one row per shape, or per shape and thread count.
enum Runs {
    /// Measures the FMA peak at each thread count in `threads`, once.
    static func measurePeaks(_ threads: [Int], seconds: Double) -> PeakRates {
        var peaks = PeakRates()
        guard seconds > 0 else { return peaks }
        for count in Set(threads).sorted() {
            peaks.gflops[count] = FMAPeak.measure(threads: count, seconds: seconds)
        }
        return peaks
    }

    /// Default mode: every shape at `options.threads`.
    static func shapes(_ options: BenchOptions) -> Int32 {
        let shapes = options.selectedShapes
        let threads = options.threads
        let peaks = measurePeaks([1, threads], seconds: options.peakTime)
        if !options.json {
            emit(peakLine(peaks, threads: threads))
            emit(
                "Training step: many-to-many, MSE on random targets, BPTT, SGD lr 1e-3; \(options.minTime) s per "
                    + "shape after 3 warm-up steps."
            )
            emit(
                "GFLOP/s and % peak count the recurrent layers only (3 x forward matmul FLOPs, as the PyTorch anchor;"
                    + " this credits the first")
            emit(
                "layer with an input gradient that is not computed, so a wide-input shape can pass 100%); the peak is"
                    + " the better of the")
            emit(
                "readings before all shapes and right after each (all threads in step, best of 5 windows); '!' marks"
                    + " a step whose executed")
            emit("FLOPs ran faster than the peak, where the peak read low.")
            emit(
                "The models have no head (OutputHead.identity): the loss is on the top layer's output, as in the "
                    + "anchor."
            )
            emit("peak MiB: the child process's maximum resident set (ru_maxrss), runtime and data included.\n")
            emit(ShapeReport.table.header)
        }
        var failures = 0
        for shape in shapes {
            do {
                let measurement = try ChildProcess.measure(
                    shape, threads: threads, minTime: options.minTime,
                    inference: options.inference, ranks: options.ranks)
                // The peak again right after the shape, under the load it ran under; the better reading counts.
                let after = measurePeaks([threads], seconds: options.peakTime).at(threads: threads)
                let peak = [peaks.at(threads: threads), after].compactMap { $0 }.max()
                let report = ShapeReport(
                    shape: shape, threads: threads, measurement: measurement,
                    peakOneThread: peaks.at(threads: 1), peakAllThreads: peak)
                if report.peakReadLow { warnPeakReadLow(report) }
                emit(options.json ? report.jsonLine : report.tableRow)
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("rnnkit-bench: \(error)\n".utf8))
            }
        }
        return failures == 0 ? 0 : 1
    }

    /// `--scaling`: every shape at 1...N threads, against the FMA peak's own scaling.
    ///
    /// The peak at each thread count is measured just before the shape runs at
    /// that count, so that both see the same competing load on a shared machine.
    static func scaling(_ options: BenchOptions) -> Int32 {
        let counts = Array(1...options.threads)
        if !options.json {
            emit("FMA peak: register-only loop on N threads for \(options.peakTime) s, measured just before each row.")
            emit("speedup = seq/s at N threads / seq/s at 1; efficiency = speedup / N;")
            emit(
                "peak speedup = FMA peak at N / FMA peak at 1; 'speedup / peak's' = how much of the cores' own "
                    + "scaling the step realises.\n"
            )
            emit(ScalingReport.table.header)
        }
        var failures = 0
        for shape in options.selectedShapes {
            var baseline: ShapeReport?
            for count in counts {
                let peak = measurePeaks([count], seconds: options.peakTime).at(threads: count)
                do {
                    let measurement = try ChildProcess.measure(
                        shape, threads: count, minTime: options.minTime, inference: false)
                    let report = ShapeReport(
                        shape: shape, threads: count, measurement: measurement,
                        peakOneThread: baseline?.peakAllThreads ?? peak, peakAllThreads: peak)
                    let reference = baseline ?? report
                    baseline = reference
                    let row = ScalingReport(
                        shape: report, baseline: reference,
                        peakOneThread: reference.peakAllThreads, peak: peak)
                    if report.peakReadLow { warnPeakReadLow(report) }
                    emit(options.json ? row.jsonLine : row.tableRow)
                } catch {
                    failures += 1
                    FileHandle.standardError.write(Data("rnnkit-bench: \(error)\n".utf8))
                    break
                }
            }
        }
        return failures == 0 ? 0 : 1
    }

    /// `--kernels`: each shape with the generic kernels, then the specialized
    /// ones, in every instruction set this CPU runs, each in its own child
    /// process with `RNNKIT_ISA` and `RNNKIT_KERNELS` set. Ratios are to the
    /// generic kernels of the same instruction set, measured just before.
    static func kernels(_ options: BenchOptions) -> Int32 {
        if !options.json {
            emit("Training steps with the kernels generated for each hidden size against the generic kernels,")
            emit(
                "per instruction set "
                    + "(\(KernelSelection.runnableInstructionSets.map(\.rawValue).joined(separator: ", ")) run here;"
                    + " compiled but not runnable here: \(unrunnableInstructionSets)); \(options.threads) threads, "
                    + "\(options.minTime) s each.\n"
            )
            emit(KernelReport.table.header)
        }
        var failures = 0
        for shape in options.selectedShapes {
            for instructionSet in KernelSelection.runnableInstructionSets {
                var generic: ShapeMeasurement?
                for kernels in ["generic", "specialized"] {
                    do {
                        let measurement = try ChildProcess.measure(
                            shape, threads: options.threads, minTime: options.minTime, inference: false,
                            environment: ["RNNKIT_ISA": instructionSet.rawValue, "RNNKIT_KERNELS": kernels])
                        let report = KernelReport(
                            shape: shape, threads: options.threads, instructionSet: instructionSet,
                            kernels: kernels, measurement: measurement, generic: generic ?? measurement)
                        generic = generic ?? measurement
                        emit(options.json ? report.jsonLine : report.tableRow)
                    } catch {
                        failures += 1
                        FileHandle.standardError.write(Data("rnnkit-bench: \(error)\n".utf8))
                    }
                }
            }
        }
        return failures == 0 ? 0 : 1
    }

    private static var unrunnableInstructionSets: String {
        let names = InstructionSet.allCases.filter {
            !KernelSelection.runnableInstructionSets.contains($0) && KernelSelection.isCompiled($0)
        }.map(\.rawValue)
        return names.isEmpty ? "none" : names.joined(separator: ", ")
    }

    private static func warnPeakReadLow(_ report: ShapeReport) {
        FileHandle.standardError.write(
            Data(
                ("rnnkit-bench: \(report.shape.name) executed \(format(report.executedGflops, 1)) GFLOP/s on "
                    + "\(report.threads) threads, above the FMA peak read "
                    + "(\(format(report.peakAllThreads ?? 0, 1))): the machine "
                    + "was busy while the peak was measured; its '% peak' (marked !) is not to be trusted\n").utf8))
    }

    private static func peakLine(_ peaks: PeakRates, threads: Int) -> String {
        guard let one = peaks.at(threads: 1), let all = peaks.at(threads: threads) else {
            return "FMA peak: not measured (--peak-time 0)"
        }
        return
            "FMA peak (register-only loop): \(format(one, 1)) GFLOP/s on 1 thread, \(format(all, 1)) GFLOP/s on "
            + "\(threads) threads (\(format(all / one, 2))x)"
    }
}
