import Dispatch

/// The machine's multiply-add throughput in the selected kernel variant,
/// measured: the ceiling against which GEMM and the cells are judged.
///
/// A register-only loop of 12 independent vector FMA chains, enough to keep
/// both FMA pipes of current x86-64 and arm64 cores busy through the FMA
/// latency (4 cycles × 2 pipes = 8 chains at least).
///
/// ```swift
/// let peak = FMAPeak.measure(seconds: 1)          // GFLOP/s on this thread
/// print("GEMM at \(100 * gemmRate / peak)% of peak")
/// ```
public enum FMAPeak {
    /// GFLOP/s of the calling thread, counting 2 flops per FMA lane.
    ///
    /// The best of five equal windows: a peak is what the core can do, so a
    /// moment when another process takes the core must not lower it.
    ///
    /// - Parameter seconds: How long to run the loop in all; each window runs
    ///   at least one batch of 1.2 million FMAs whatever it is.
    /// - Returns: Billions of floating-point operations per second.
    public static func measure(seconds: Double) -> Double {
        bestWindow(of: KernelSelection.current, seconds: seconds)
    }

    /// Total GFLOP/s of `threads` threads running the loop at once, each
    /// thread's the best of five windows.
    ///
    /// - Parameters:
    ///   - threads: Threads to run concurrently (one per core to measure the machine).
    ///   - seconds: How long each thread runs the loop.
    /// - Returns: The sum of the threads' GFLOP/s.
    public static func measure(threads: Int, seconds: Double) -> Double {
        precondition(threads > 0, "FMAPeak: thread count \(threads) must be positive")
        let selection = KernelSelection.current
        // Each thread writes only its own slot.
        nonisolated(unsafe) let rates = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
        defer { rates.deallocate() }
        rates.initialize(repeating: 0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            rates[thread] = bestWindow(of: selection, seconds: seconds)
        }
        return rates.reduce(0, +)
    }

    private static let windows = 5

    private static func bestWindow(of selection: KernelSelection, seconds: Double) -> Double {
        (0..<windows).map { _ in selection.backend.measurePeak(seconds: seconds / Double(windows)) }.max()!
    }
}
