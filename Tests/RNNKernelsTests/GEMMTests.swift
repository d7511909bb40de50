import Testing
@testable import RNNKernels

// GEMM against two scalar references: a Double-precision triple loop (the
// value, within rounding) and the sequential Float FMA chain GEMM promises
// (the exact bits). The Double reference alone would let through a kernel
// that sums in another order, which the trainer's reproducibility forbids.
// Every test runs on every instruction-set variant this machine runs.

@Suite struct GEMMTests {
    static let transposes: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

    @Test(arguments: KernelSelection.testedVariants, transposes)
    func matchesReferenceOnSmallShapes(kernels: KernelSelection, transposes: (Bool, Bool)) {
        KernelSelection.with(kernels) {
            matchesReferenceOnSmallShapes(transposeA: transposes.0, transposeB: transposes.1)
        }
    }

    func matchesReferenceOnSmallShapes(transposeA: Bool, transposeB: Bool) {
        var random = TestRandom(seed: 1)
        let scratch = GEMMScratch()
        let sizes = [1, 3, 7, 17, 100]
        for m in sizes {
            for n in sizes {
                for k in sizes {
                    let accumulate = (m + n + k) % 2 == 0
                    let problem = Problem(
                        m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                        accumulate: accumulate, random: &random)
                    let result = problem.multiply(scratch: scratch)
                    expectClose(result, problem)
                    expectBits(result, problem.fmaChain(), problem, "sequential FMA chain")
                    expectBits(
                        problem.multiplyPacked(columnSplits: [], scratch: scratch), result, problem, "prepacked B")
                }
            }
        }
    }

    @Test(arguments: KernelSelection.testedVariants, transposes)
    func crossesBlockBoundaries(kernels: KernelSelection, transposes: (Bool, Bool)) {
        KernelSelection.with(kernels) { crossesBlockBoundaries(transposeA: transposes.0, transposeB: transposes.1) }
    }

    func crossesBlockBoundaries(transposeA: Bool, transposeB: Bool) {
        var random = TestRandom(seed: 2)
        let scratch = GEMMScratch()
        // Past rowBlock (144), several depthBlocks (256), columnBlocks (2048);
        // a 32-row shard, cut into panels of 6, 6, 5, 5, 5, 5.
        for (m, n, k, accumulate) in [
            (150, 19, 520, true), (13, 40, 257, false), (2, 4099, 3, false), (2, 4099, 3, true),
            (32, 70, 300, true)
        ] {
            let problem = Problem(
                m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                accumulate: accumulate, random: &random)
            let result = problem.multiply(scratch: scratch)
            expectClose(result, problem)
            expectBits(result, problem.fmaChain(), problem, "sequential FMA chain")
            expectBits(problem.multiplyPacked(columnSplits: [], scratch: scratch), result, problem, "prepacked B")
        }
    }

    @Test(arguments: KernelSelection.testedVariants)
    func columnSplitsAreBitIdentical(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            var random = TestRandom(seed: 3)
            let scratch = GEMMScratch()
            for (transposeA, transposeB) in Self.transposes {
                let problem = Problem(
                    m: 11, n: 75, k: 300, transposeA: transposeA, transposeB: transposeB,
                    accumulate: true, random: &random)
                let whole = problem.multiply(scratch: scratch)
                // Splits inside panels, on panel boundaries, and empty ranges.
                for splits in [[1], [16], [5, 21, 37, 64], [30, 30, 74], [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]] {
                    expectBits(
                        problem.multiplyPacked(columnSplits: splits, scratch: scratch), whole, problem,
                        "columns split at \(splits)")
                }
            }
        }
    }

    @Test(arguments: KernelSelection.testedVariants)
    func rowsDoNotDependOnTheirNeighbours(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            var random = TestRandom(seed: 4)
            let scratch = GEMMScratch()
            for (transposeA, transposeB) in Self.transposes {
                let problem = Problem(
                    m: 29, n: 20, k: 70, transposeA: transposeA, transposeB: transposeB,
                    accumulate: true, random: &random)
                let whole = problem.multiply(scratch: scratch)
                // Each batch of rows is cut into different row panels than in the whole.
                for batches in [[0..<1, 1..<29], [0..<8, 8..<16, 16..<23, 23..<29], [0..<13, 13..<14, 14..<29]] {
                    var separate = problem.c
                    var separatePacked = problem.c
                    for rows in batches {
                        problem.multiply(rows: rows, into: &separate, scratch: scratch)
                        problem.multiplyPacked(rows: rows, into: &separatePacked, scratch: scratch)
                    }
                    expectBits(separate, whole, problem, "rows in batches \(batches)")
                    expectBits(separatePacked, whole, problem, "rows in batches \(batches), prepacked B")
                }
            }
        }
    }

    /// A bias start has the bits of a C filled with the bias and accumulated
    /// into: across depth blocks, in tiles cut by C's edge, past a column
    /// block, and at depth zero; C's old values are ignored, its padding untouched.
    @Test(arguments: KernelSelection.testedVariants)
    func biasStartsEveryRow(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            var random = TestRandom(seed: 9)
            let scratch = GEMMScratch()
            for (transposeA, transposeB) in Self.transposes {
                for (m, n, k) in [(13, 40, 300), (150, 19, 7), (2, 4099, 3), (3, 5, 0), (32, 768, 128)] {
                    let problem = Problem(
                        m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                        accumulate: true, random: &random)
                    let bias = (0..<n).map { _ in random.uniform(-1, 1) }
                    var filled = problem
                    for i in 0..<m { for j in 0..<n { filled.c[i, j] = bias[j] } }
                    expectBits(
                        problem.multiply(bias: bias, scratch: scratch), filled.multiply(scratch: scratch), problem,
                        "bias start")
                }
            }
        }
    }

    /// Two products of one A, with B's stored either way, across the row and
    /// depth blocks, and wide enough together to need two column blocks.
    @Test(arguments: KernelSelection.testedVariants)
    func productsSharingAMatchSeparateMultiplies(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            var random = TestRandom(seed: 8)
            let scratch = GEMMScratch()
            for (m, k, widths) in [(150, 300, (19, 40)), (32, 77, (128, 256)), (5, 9, (2040, 20)), (7, 3, (0, 5))] {
                for (transposeA, accumulate) in [(true, true), (false, false)] {
                    let first = Problem(
                        m: m, n: widths.0, k: k, transposeA: transposeA, transposeB: false,
                        accumulate: accumulate, random: &random)
                    var second = Problem(
                        m: m, n: widths.1, k: k, transposeA: transposeA, transposeB: true,
                        accumulate: accumulate, random: &random)
                    second.a = first.a
                    let results = Problem.multiplySharingA(first, second, scratch: scratch)
                    expectBits(results.0, first.multiply(scratch: scratch), first, "first of two products")
                    expectBits(results.1, second.multiply(scratch: scratch), second, "second of two products")
                }
            }
        }
    }

    @Test(arguments: KernelSelection.testedVariants)
    func repackingReplacesTheWeights(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            var random = TestRandom(seed: 5)
            let scratch = GEMMScratch()
            let first = Problem(
                m: 4, n: 19, k: 9, transposeA: false, transposeB: true, accumulate: false, random: &random)
            var second = first
            second.b = Matrix(rows: first.b.rows, columns: first.b.columns, padding: 2, random: &random)
            let packed = PackedMatrix(rows: 9, columns: 19)
            for problem in [first, second, first] {
                problem.b.storage.withUnsafeBufferPointer {
                    packed.pack($0.baseAddress!, ldb: problem.b.stride, transposed: true)
                }
                var c = problem.c
                problem.multiplyPacked(packed, rows: 0..<4, columns: 0..<19, into: &c, scratch: scratch)
                expectBits(c, problem.fmaChain(), problem, "after repacking")
            }
        }
    }

    @Test(arguments: KernelSelection.testedVariants)
    func emptyShapesAndZeroDepth(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            var random = TestRandom(seed: 6)
            let scratch = GEMMScratch()
            for accumulate in [false, true] {
                let problem = Problem(
                    m: 3, n: 5, k: 0, transposeA: false, transposeB: false,
                    accumulate: accumulate, random: &random)
                var expected = problem.c
                if !accumulate {
                    for i in 0..<3 { for j in 0..<5 { expected[i, j] = 0 } }
                }
                expectBits(problem.multiply(scratch: scratch), expected, problem, "k = 0")
                expectBits(
                    problem.multiplyPacked(columnSplits: [2], scratch: scratch), expected, problem, "k = 0, prepacked B"
                )
            }
            let problem = Problem(
                m: 3, n: 5, k: 4, transposeA: false, transposeB: false, accumulate: false, random: &random)
            var c = problem.c
            problem.multiply(rows: 0..<0, into: &c, scratch: scratch)
            problem.multiplyPacked(rows: 0..<0, into: &c, scratch: scratch)
            let packed = problem.packedB()
            problem.multiplyPacked(packed, rows: 0..<3, columns: 2..<2, into: &c, scratch: scratch)
            expectBits(c, problem.c, problem, "m = 0 or no columns leaves C alone")
        }
    }

    @Test(arguments: KernelSelection.testedVariants)
    func fmaPeakMeasuresSomething(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            #expect(FMAPeak.measure(seconds: 0.001) > 0)
            #expect(FMAPeak.measure(threads: 2, seconds: 0.001) > 0)
        }
    }
}

extension GEMMTests {
    /// The recurrent multiplies generated for each configured hidden size
    /// against the generic kernel, bit for bit, in a 32-row shard and a small
    /// batch, with whole and split column ranges; against the FMA chain too
    /// where that reference is quick.
    @Test(arguments: KernelSelection.testedVariants)
    func specializedRecurrentMultipliesMatchTheGenericOnes(kernels: KernelSelection) {
        var random = TestRandom(seed: 7)
        let scratch = GEMMScratch()
        for hiddenSize in KernelSelection.with(kernels, { KernelSelection.specializedHiddenSizes }) {
            for gates in [1, 3, 4] {
                for (k, n, transposeB) in [
                    (hiddenSize, gates * hiddenSize, true), (gates * hiddenSize, hiddenSize, false)
                ] {
                    for m in [32, 5] {
                        let problem = Problem(
                            m: m, n: n, k: k, transposeA: false, transposeB: transposeB,
                            accumulate: true, random: &random)
                        var generic = kernels
                        generic.usesSpecializedKernels = false
                        let expected = KernelSelection.with(generic) {
                            problem.multiplyPacked(columnSplits: [], scratch: scratch)
                        }
                        KernelSelection.with(kernels) {
                            expectBits(
                                problem.multiplyPacked(columnSplits: [], scratch: scratch), expected, problem,
                                "specialized H=\(hiddenSize)")
                            expectBits(
                                problem.multiplyPacked(columnSplits: [n / 3, n / 2 + 1], scratch: scratch),
                                expected, problem, "specialized H=\(hiddenSize), split columns")
                            if m * n * k <= 1 << 22 {
                                expectBits(expected, problem.fmaChain(), problem, "generic H=\(hiddenSize)")
                            }
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Problems and references

/// A row-major matrix whose row stride exceeds its width; the padding holds
/// NaN, so a kernel that reads it shows it, and one that writes it is caught.
private struct Matrix {
    let rows: Int
    let columns: Int
    let stride: Int
    var storage: [Float]

    init(rows: Int, columns: Int, padding: Int, random: inout TestRandom) {
        self.rows = rows
        self.columns = columns
        stride = columns + padding
        storage = [Float](repeating: .nan, count: max(1, rows * stride))
        for i in 0..<rows {
            for j in 0..<columns { storage[i * stride + j] = random.uniform(-1, 1) }
        }
    }

    subscript(i: Int, j: Int) -> Float {
        get { storage[i * stride + j] }
        set { storage[i * stride + j] = newValue }
    }
}

/// One multiply's operands: A and B as stored (transposed or not), and C's
/// starting values.
private struct Problem: CustomStringConvertible {
    let m: Int, n: Int, k: Int
    let transposeA: Bool, transposeB: Bool, accumulate: Bool
    var a: Matrix, b: Matrix, c: Matrix

    init(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool, random: inout TestRandom) {
        self.m = m
        self.n = n
        self.k = k
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.accumulate = accumulate
        a =
            transposeA
            ? Matrix(rows: k, columns: m, padding: 3, random: &random)
            : Matrix(rows: m, columns: k, padding: 3, random: &random)
        b =
            transposeB
            ? Matrix(rows: n, columns: k, padding: 5, random: &random)
            : Matrix(rows: k, columns: n, padding: 5, random: &random)
        c = Matrix(rows: m, columns: n, padding: 2, random: &random)
    }

    var description: String {
        "m=\(m) n=\(n) k=\(k) transposeA=\(transposeA) transposeB=\(transposeB) accumulate=\(accumulate)"
    }

    func opA(_ i: Int, _ kk: Int) -> Float { transposeA ? a[kk, i] : a[i, kk] }
    func opB(_ kk: Int, _ j: Int) -> Float { transposeB ? b[j, kk] : b[kk, j] }

    /// The whole product with the unpacked API.
    func multiply(scratch: GEMMScratch) -> Matrix {
        var result = c
        multiply(rows: 0..<m, into: &result, scratch: scratch)
        return result
    }

    /// Rows `rows` of the product into `result`, with the unpacked API.
    func multiply(rows: Range<Int>, into result: inout Matrix, scratch: GEMMScratch) {
        let aOffset = transposeA ? rows.lowerBound : rows.lowerBound * a.stride
        a.storage.withUnsafeBufferPointer { a in
            b.storage.withUnsafeBufferPointer { b in
                result.storage.withUnsafeMutableBufferPointer { c in
                    Kernels.current.multiply(
                        m: rows.count, n: n, k: k,
                        a: a.baseAddress! + aOffset, lda: self.a.stride, transposeA: transposeA,
                        b: b.baseAddress!, ldb: self.b.stride, transposeB: transposeB,
                        c: c.baseAddress! + rows.lowerBound * result.stride, ldc: result.stride,
                        accumulate: accumulate, scratch: scratch)
                }
            }
        }
    }

    /// The product started from `bias` in every row instead of from C.
    func multiply(bias: [Float], scratch: GEMMScratch) -> Matrix {
        var result = c
        a.storage.withUnsafeBufferPointer { a in
            b.storage.withUnsafeBufferPointer { b in
                result.storage.withUnsafeMutableBufferPointer { c in
                    Kernels.current.multiply(
                        m: m, n: n, k: k, a: a.baseAddress!, lda: self.a.stride, transposeA: transposeA,
                        b: b.baseAddress!, ldb: self.b.stride, transposeB: transposeB,
                        bias: bias, c: c.baseAddress!, ldc: result.stride, scratch: scratch)
                }
            }
        }
        return result
    }

    /// Both products with the two-product multiply, from `first`'s A (which
    /// `second` must share).
    static func multiplySharingA(_ first: Problem, _ second: Problem, scratch: GEMMScratch) -> (Matrix, Matrix) {
        var results = (first.c, second.c)
        first.a.storage.withUnsafeBufferPointer { a in
            first.b.storage.withUnsafeBufferPointer { b1 in
                second.b.storage.withUnsafeBufferPointer { b2 in
                    results.0.storage.withUnsafeMutableBufferPointer { c1 in
                        results.1.storage.withUnsafeMutableBufferPointer { c2 in
                            Kernels.current.multiply(
                                m: first.m, k: first.k, a: a.baseAddress!, lda: first.a.stride,
                                transposeA: first.transposeA,
                                GEMMProduct(
                                    n: first.n, b: b1.baseAddress!, ldb: first.b.stride, transposeB: first.transposeB,
                                    c: c1.baseAddress!, ldc: first.c.stride),
                                GEMMProduct(
                                    n: second.n, b: b2.baseAddress!, ldb: second.b.stride,
                                    transposeB: second.transposeB,
                                    c: c2.baseAddress!, ldc: second.c.stride),
                                accumulate: first.accumulate, scratch: scratch)
                        }
                    }
                }
            }
        }
        return results
    }

    func packedB() -> PackedMatrix {
        let packed = PackedMatrix(rows: k, columns: n)
        b.storage.withUnsafeBufferPointer { packed.pack($0.baseAddress!, ldb: b.stride, transposed: transposeB) }
        return packed
    }

    /// The whole product with the prepacked API, its columns computed in
    /// ranges ending at each of `columnSplits`, then at n.
    func multiplyPacked(columnSplits: [Int], scratch: GEMMScratch) -> Matrix {
        let packed = packedB()
        var result = c
        var lower = 0
        for upper in columnSplits + [n] {
            multiplyPacked(packed, rows: 0..<m, columns: lower..<upper, into: &result, scratch: scratch)
            lower = upper
        }
        return result
    }

    func multiplyPacked(rows: Range<Int>, into result: inout Matrix, scratch: GEMMScratch) {
        multiplyPacked(packedB(), rows: rows, columns: 0..<n, into: &result, scratch: scratch)
    }

    func multiplyPacked(
        _ packed: PackedMatrix, rows: Range<Int>, columns: Range<Int>,
        into result: inout Matrix, scratch: GEMMScratch
    ) {
        let aOffset = transposeA ? rows.lowerBound : rows.lowerBound * a.stride
        a.storage.withUnsafeBufferPointer { a in
            result.storage.withUnsafeMutableBufferPointer { c in
                Kernels.current.multiply(
                    m: rows.count, a: a.baseAddress! + aOffset, lda: self.a.stride, transposeA: transposeA,
                    packedB: packed, columns: columns,
                    c: c.baseAddress! + rows.lowerBound * result.stride, ldc: result.stride,
                    accumulate: accumulate, scratch: scratch)
            }
        }
    }

    /// The exact result GEMM promises: for each element, one chain of FMAs
    /// in increasing k from `accumulate ? C : 0`, rounded as the kernels round.
    /// (This module is compiled without FMA, where `addingProduct` is libm's
    /// `fmaf`: slow, and rounded once like the instruction.)
    func fmaChain() -> Matrix {
        let fused = Kernels.current.hasFusedMultiplyAdd
        var result = c
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = accumulate ? c[i, j] : 0
                for kk in 0..<k {
                    sum = fused ? sum.addingProduct(opA(i, kk), opB(kk, j)) : sum + opA(i, kk) * opB(kk, j)
                }
                result[i, j] = sum
            }
        }
        return result
    }
}

/// Checks every element of C against a Double triple loop, within rounding
/// error that grows with k: 1e-6 · (k + 1) of the sum of the terms' magnitudes.
private func expectClose(_ result: Matrix, _ problem: Problem, sourceLocation: SourceLocation = #_sourceLocation) {
    var failures = 0
    for i in 0..<problem.m {
        for j in 0..<problem.n {
            var exact: Double = problem.accumulate ? Double(problem.c[i, j]) : 0
            var magnitude = abs(exact)
            for kk in 0..<problem.k {
                let term = Double(problem.opA(i, kk)) * Double(problem.opB(kk, j))
                exact += term
                magnitude += abs(term)
            }
            let tolerance = 1e-6 * Double(problem.k + 1) * magnitude
            if !(abs(Double(result[i, j]) - exact) <= tolerance) {
                failures += 1
                if failures <= 3 {
                    Issue.record(
                        "\(problem): C[\(i), \(j)] = \(result[i, j]), expected \(exact) ± \(tolerance)",
                        sourceLocation: sourceLocation)
                }
            }
        }
    }
}

/// Checks that two results hold the same bits, C's padding included.
private func expectBits(
    _ result: Matrix, _ expected: Matrix, _ problem: Problem, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let mismatch = result.storage.indices.first { result.storage[$0].bitPattern != expected.storage[$0].bitPattern }
    if let index = mismatch {
        let (i, j) = index.quotientAndRemainder(dividingBy: result.stride)
        Issue.record(
            "\(problem), \(what): C[\(i), \(j)] = \(result.storage[index]), expected \(expected.storage[index])",
            sourceLocation: sourceLocation)
    }
}
