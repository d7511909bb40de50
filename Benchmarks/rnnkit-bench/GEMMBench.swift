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

    /// One LSTM forward timestep of a 32-row shard at each hidden size with
    /// a fused step: the recurrent multiply onto the gates and the cell
    /// kernel, then the fused step that replaces them (same bits).
    static let lstmSteps: [(Problem, fused: Bool)] = [64, 128, 256].flatMap { size in
        [false, true].map { fused in
            let name = "lstm step H=\(size), " + (fused ? "fused" : "multiply + cell kernel")
            return (Problem(name: name, m: 32, n: 4 * size, k: size, packed: true), fused)
        }
    }

    static func run(_ options: BenchOptions) {
        let seconds = max(options.minTime, 0.2)
        let peakBefore = FMAPeak.measure(seconds: 1)
        var rows: [(Problem, Double)] = []
        for problem in problems { rows.append((problem, measure(problem, seconds: seconds))) }
        if let fusedSteps = lstmStepRows(seconds: seconds) { rows += fusedSteps }
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

    /// The LSTM steps' rows, when the kernels have fused steps (specialized
    /// kernels, hidden sizes in kernel-sizes.json); the step counts the
    /// recurrent product's FLOPs only, as the GEMM rows do.
    static func lstmStepRows(seconds: Double) -> [(Problem, Double)]? {
        let kernels = Kernels.current
        guard lstmSteps.allSatisfy({ kernels.fusedStep(named: "lstm", hiddenSize: $0.0.k) != nil }) else { return nil }
        return lstmSteps.map { problem, fused in
            let size = problem.k, rows = problem.m
            let fusedStep = kernels.fusedStep(named: "lstm", hiddenSize: size)!
            let cell = kernels.cell(named: "lstm", hiddenSize: size)!
            let weights = randomBuffer(problem.n * size)
            let packed = PackedMatrix(rows: size, columns: problem.n, kernels: kernels)
            packed.pack(weights.baseAddress, ldb: size, transposed: true)
            let interleaved = AlignedBuffer(count: fusedStep.packedCount)
            fusedStep.pack(weights.baseAddress, into: interleaved.baseAddress)
            let gates = randomBuffer(rows * problem.n), projection = randomBuffer(rows * problem.n)
            let hidden = randomBuffer(2 * rows * size), cells = randomBuffer(2 * rows * size)
            let scratch = GEMMScratch()
            var step = CellStep(
                rows: rows, hiddenSize: size, time: 0, lengths: nil, gates: gates.baseAddress,
                previousHidden: hidden.baseAddress, hidden: hidden.baseAddress + rows * size,
                output: hidden.baseAddress + rows * size, outputStride: size)
            step.previousCell = UnsafePointer(cells.baseAddress)
            step.cell = cells.baseAddress + rows * size
            let gflops = bestRate(flops: 2.0 * Double(rows * problem.n * size), seconds: seconds) {
                // Each step starts from the same input projection, so that the values stay in range.
                gates.baseAddress.update(from: projection.baseAddress, count: rows * problem.n)
                if fused {
                    fusedStep.forward(step, weights: interleaved.baseAddress)
                } else {
                    kernels.multiply(
                        m: rows, a: step.previousHidden, lda: size, transposeA: false, packedB: packed,
                        columns: 0..<problem.n, c: gates.baseAddress, ldc: problem.n, accumulate: true,
                        scratch: scratch)
                    cell.forward(step)
                }
            }
            return (problem, gflops)
        }
    }

    static func randomBuffer(_ count: Int) -> AlignedBuffer {
        var generator = SystemRandomNumberGenerator()
        let buffer = AlignedBuffer(count: count)
        for index in 0..<count { buffer.baseAddress[index] = Float.random(in: -1...1, using: &generator) }
        return buffer
    }

    /// GFLOP/s of `body`, `flops` a call, over `seconds`: the best of ten
    /// rounds, so that a round the other vCPU's load slowed does not count.
    static func bestRate(flops: Double, seconds: Double, _ body: () -> Void) -> Double {
        body()
        var best = 0.0
        for _ in 0..<10 {
            let clock = ContinuousClock()
            var runs = 0
            let start = clock.now
            var elapsed = 0.0
            while elapsed < seconds / 10 {
                body()
                runs += 1
                let duration = clock.now - start
                elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
            }
            best = max(best, flops * Double(runs) / elapsed / 1e9)
        }
        return best
    }

    /// GFLOP/s of repeated products over `seconds` (best of a few rounds).
    static func measure(_ p: Problem, seconds: Double) -> Double {
        let a = randomBuffer(p.m * p.k), b = randomBuffer(p.k * p.n), c = AlignedBuffer(count: p.m * p.n)
        let scratch = GEMMScratch()
        let kernels = Kernels.current
        let packed = PackedMatrix(rows: p.k, columns: p.n, kernels: kernels)
        packed.pack(b.baseAddress, ldb: p.n, transposed: false)
        return bestRate(flops: 2.0 * Double(p.m * p.n * p.k), seconds: seconds) {
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
    }
}
