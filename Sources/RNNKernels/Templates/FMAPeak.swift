/// This variant's multiply-add throughput on one thread, measured: the
/// ceiling against which GEMM and the cells are judged.
///
/// A register-only loop of 12 independent `Vector` FMA chains, enough to keep
/// both FMA pipes of current x86-64 and arm64 cores busy through the FMA
/// latency (4 cycles × 2 pipes = 8 chains at least).
enum FMAPeak {
    /// GFLOP/s of the calling thread, counting 2 flops per FMA lane.
    ///
    /// - Parameter seconds: How long to run the loop; at least one batch of
    ///   1.2 million FMAs runs whatever it is.
    /// - Returns: Billions of floating-point operations per second.
    static func measure(seconds: Double) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var fmaCount = 0
        var elapsed = 0.0
        var checksum: Float = 0
        repeat {
            checksum += fmaChains(iterations: iterationsPerBatch)
            fmaCount += iterationsPerBatch * chainCount * Vector.scalarCount
            elapsed = inSeconds(start.duration(to: clock.now))
        } while elapsed < seconds
        sink = checksum
        return 2 * Double(fmaCount) / elapsed / 1e9
    }

    static let chainCount = 12
    /// 1.2 million FMAs per batch: a fraction of a millisecond, so `seconds` is overshot by little.
    static let iterationsPerBatch = 100_000

    /// Keeps the loop's result observable, so the loop is not optimized away.
    nonisolated(unsafe) static var sink: Float = 0

    /// Runs `iterations` × 12 dependent-in-chain FMAs and returns a value
    /// depending on all of them. Each chain converges to a normal number
    /// (x ← 0.999·x + 0.001), so no denormal or infinity slows it down.
    @inline(never)
    static func fmaChains(iterations: Int) -> Float {
        let scale = Vector(repeating: 0.999)
        let offset = Vector(repeating: 0.001)
        var x0 = Vector(repeating: 1.0), x1 = Vector(repeating: 1.1), x2 = Vector(repeating: 1.2)
        var x3 = Vector(repeating: 1.3), x4 = Vector(repeating: 1.4), x5 = Vector(repeating: 1.5)
        var x6 = Vector(repeating: 1.6), x7 = Vector(repeating: 1.7), x8 = Vector(repeating: 1.8)
        var x9 = Vector(repeating: 1.9), x10 = Vector(repeating: 2.0), x11 = Vector(repeating: 2.1)
        for _ in 0..<iterations {
            x0 = multiplyAdd(x0, scale, offset)
            x1 = multiplyAdd(x1, scale, offset)
            x2 = multiplyAdd(x2, scale, offset)
            x3 = multiplyAdd(x3, scale, offset)
            x4 = multiplyAdd(x4, scale, offset)
            x5 = multiplyAdd(x5, scale, offset)
            x6 = multiplyAdd(x6, scale, offset)
            x7 = multiplyAdd(x7, scale, offset)
            x8 = multiplyAdd(x8, scale, offset)
            x9 = multiplyAdd(x9, scale, offset)
            x10 = multiplyAdd(x10, scale, offset)
            x11 = multiplyAdd(x11, scale, offset)
        }
        let sum = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11))
        return sum.sum()
    }

    static func inSeconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
