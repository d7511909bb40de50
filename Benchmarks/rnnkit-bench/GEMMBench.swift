import Foundation
import RNNKernels

/// `--gemm`: single-threaded GEMM throughput against the FMA peak measured in
/// the same run, on a large square problem and on the shapes a training step
/// runs (per 32-row shard).
enum GEMMBench {
    struct Problem {
        var name: String
        var m: Int, n: Int, k: Int
        var transposeA = false, transposeB = false, packed = false
    }

    static let problems: [Problem] = [
        Problem(name: "square 1024", m: 1024, n: 1024, k: 1024),
        Problem(name: "input projection (T*32 x 4H x I, Bᵀ)", m: 3200, n: 1024, k: 128, transposeB: true),
        Problem(name: "recurrent forward (32 x 4H x H, packed)", m: 32, n: 1024, k: 256, packed: true),
        Problem(name: "recurrent backward (32 x H x 4H, packed)", m: 32, n: 256, k: 1024, packed: true),
        Problem(name: "weight gradient (4H x H x T*32, Aᵀ)", m: 1024, n: 256, k: 3200, transposeA: true),
        Problem(name: "large recurrent forward (32 x 2048 x 512, packed)", m: 32, n: 2048, k: 512, packed: true),
        Problem(name: "large weight gradient (2048 x 512 x 1600, Aᵀ)", m: 2048, n: 512, k: 1600, transposeA: true)
    ]

    static func run(_ options: BenchOptions) {
        let seconds = max(options.minTime, 0.2)
        let peakBefore = FMAPeak.measure(seconds: 1)
        var rows: [(Problem, Double)] = []
        for problem in problems { rows.append((problem, measure(problem, seconds: seconds))) }
        let peak = max(peakBefore, FMAPeak.measure(seconds: 1))
        if options.json {
            for (problem, gflops) in rows {
                let rates = String(
                    format: "\"gflops\":%.2f,\"peak_gflops\":%.2f,\"peak_fraction\":%.4f", gflops, peak, gflops / peak)
                let size = "\"m\":\(problem.m),\"n\":\(problem.n),\"k\":\(problem.k)"
                print("{\"gemm\":\"\(problem.name)\",\(size),\(rates)}")
            }
            return
        }
        print(String(format: "FMA peak, 1 thread (best of two measurements around the GEMMs): %.1f GFLOP/s", peak))
        print("problem".padding(toLength: 52, withPad: " ", startingAt: 0) + "      m      n      k   GFLOP/s  % peak")
        for (problem, gflops) in rows {
            print(
                problem.name.padding(toLength: 52, withPad: " ", startingAt: 0)
                    + String(
                        format: " %6d %6d %6d  %8.1f  %6.1f", problem.m, problem.n, problem.k, gflops,
                        100 * gflops / peak))
        }
    }

    /// GFLOP/s of repeated products over `seconds` (best of a few rounds).
    static func measure(_ p: Problem, seconds: Double) -> Double {
        var generator = SystemRandomNumberGenerator()
        let aCount = p.m * p.k, bCount = p.k * p.n
        let a = AlignedBuffer(count: aCount), b = AlignedBuffer(count: bCount), c = AlignedBuffer(count: p.m * p.n)
        for index in 0..<aCount { a.baseAddress[index] = Float.random(in: -1...1, using: &generator) }
        for index in 0..<bCount { b.baseAddress[index] = Float.random(in: -1...1, using: &generator) }
        let scratch = GEMMScratch()
        let kernels = Kernels.current
        let packed = PackedMatrix(rows: p.k, columns: p.n, kernels: kernels)
        packed.pack(b.baseAddress, ldb: p.n, transposed: false)
        func once() {
            if p.packed {
                kernels.multiply(
                    m: p.m, a: a.baseAddress, lda: p.k, transposeA: false, packedB: packed, columns: 0..<p.n,
                    c: c.baseAddress, ldc: p.n, accumulate: true, scratch: scratch)
            } else {
                kernels.multiply(
                    m: p.m, n: p.n, k: p.k, a: a.baseAddress, lda: p.transposeA ? p.m : p.k,
                    transposeA: p.transposeA, b: b.baseAddress, ldb: p.transposeB ? p.k : p.n,
                    transposeB: p.transposeB, c: c.baseAddress, ldc: p.n, accumulate: true, scratch: scratch)
            }
        }
        once()
        var best = 0.0
        for _ in 0..<3 {
            let clock = ContinuousClock()
            var runs = 0
            let start = clock.now
            var elapsed = 0.0
            while elapsed < seconds / 3 {
                once()
                runs += 1
                let duration = clock.now - start
                elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
            }
            best = max(best, 2.0 * Double(p.m * p.n * p.k) * Double(runs) / elapsed / 1e9)
        }
        return best
    }
}
