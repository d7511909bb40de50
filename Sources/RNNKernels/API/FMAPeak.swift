import Foundation

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

    /// Total GFLOP/s of `threads` threads running the loop at once: the best
    /// of several windows, each started by all threads together and summed
    /// over the same interval, so every thread is busy while it is counted.
    ///
    /// A thread that another process takes in one window lowers only that
    /// window; one whose window did not overlap the others' (if each thread
    /// kept its own best window) would make the sum a rate the machine never
    /// ran at, above or below the truth.
    ///
    /// - Parameters:
    ///   - threads: Threads to run concurrently (one per core to measure the machine).
    ///   - seconds: How long the threads run the loop in all.
    /// - Returns: The threads' summed GFLOP/s in the best window.
    public static func measure(threads: Int, seconds: Double) -> Double {
        precondition(threads > 0, "FMAPeak: thread count \(threads) must be positive")
        guard threads > 1 else { return measure(seconds: seconds) }
        let selection = KernelSelection.current
        let window = seconds / Double(windows)
        // rates[w * threads + t]: thread t's GFLOP/s in window w; each thread writes only its own slots.
        nonisolated(unsafe) let rates = UnsafeMutableBufferPointer<Double>.allocate(capacity: windows * threads)
        defer { rates.deallocate() }
        rates.initialize(repeating: 0)
        let start = WindowStart(threads: threads)
        // Threads of their own: all must run at once, which Dispatch's pool does not promise.
        let workers = (0..<threads).map { thread in
            Thread {
                for index in 0..<windows {
                    start.wait()
                    rates[index * threads + thread] = selection.backend.measurePeak(seconds: window)
                }
                start.finish()
            }
        }
        workers.forEach { $0.start() }
        start.waitUntilFinished()
        return (0..<windows).map { index in rates[index * threads..<(index + 1) * threads].reduce(0, +) }.max()!
    }

    private static let windows = 5

    private static func bestWindow(of selection: KernelSelection, seconds: Double) -> Double {
        (0..<windows).map { _ in selection.backend.measurePeak(seconds: seconds / Double(windows)) }.max()!
    }
}

/// Lets a group of threads start each window together (a reusable barrier),
/// and the caller wait until all have finished.
private final class WindowStart: @unchecked Sendable {
    private let condition = NSCondition()
    private let threads: Int
    private var arrived = 0, generation = 0, finished = 0

    init(threads: Int) { self.threads = threads }

    func wait() {
        condition.lock()
        defer { condition.unlock() }
        let current = generation
        arrived += 1
        if arrived == threads {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == current { condition.wait() }
        }
    }

    func finish() {
        condition.lock()
        finished += 1
        condition.broadcast()
        condition.unlock()
    }

    func waitUntilFinished() {
        condition.lock()
        while finished < threads { condition.wait() }
        condition.unlock()
    }
}
