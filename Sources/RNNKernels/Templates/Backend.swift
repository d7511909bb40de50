import KernelInterface

/// This variant's kernels behind the interface `RNNKernels` dispatches to.
/// Where `specialized` is set and the generator made kernels for the hidden
/// size (or the packed multiply's shape), those run; the generic ones otherwise.
public enum Backend: KernelBackend {
    public static var instructionSet: InstructionSet { variantInstructionSet }
    public static var hasFusedMultiplyAdd: Bool { compiledWithFMA }
    public static var panelWidth: Int { GEMM.microColumns }
    public static var specializedHiddenSizes: [Int] { Specialized.hiddenSizes }

    // MARK: GEMM

    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>?, scratch: GEMMScratch
    ) {
        GEMM.multiply(
            m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
            c: c, ldc: ldc, accumulate: accumulate, bias: bias, scratch: scratch)
    }

    public static func multiply(
        m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        _ first: GEMMProduct, _ second: GEMMProduct, accumulate: Bool, scratch: GEMMScratch
    ) {
        GEMM.multiply(
            m: m, k: k, a: a, lda: lda, transposeA: transposeA, first, second,
            accumulate: accumulate, scratch: scratch)
    }

    public static func pack(
        _ b: UnsafePointer<Float>, ldb: Int, transposed: Bool, rows: Int, columns: Int,
        into panels: UnsafeMutablePointer<Float>
    ) {
        GEMM.packB(b, ldb: ldb, transposed: transposed, depth: 0..<rows, columns: 0..<columns, into: panels)
    }

    public static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        panels: UnsafePointer<Float>, rows: Int, columnCount: Int, columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: GEMMScratch, specialized: Bool
    ) {
        if specialized, let kernel = Specialized.packedMultiply(k: rows, n: columnCount) {
            kernel(m, a, lda, transposeA, panels, columns, c, ldc, accumulate, scratch)
        } else {
            GEMM.multiply(
                m: m, a: a, lda: lda, transposeA: transposeA, panels: panels, k: rows, columns: columns,
                c: c, ldc: ldc, accumulate: accumulate, scratch: scratch)
        }
    }

    // MARK: Cells

    public static var cellKernelNames: [String] { Specialized.cellKernelNames }

    public static func cellKernels(named name: String, hiddenSize: Int, specialized: Bool) -> CellKernelPair? {
        Specialized.cellKernels(named: name, hiddenSize: hiddenSize, specialized: specialized)
    }

    public static func fusedStep(named name: String, hiddenSize: Int) -> FusedStepEntry? {
        Specialized.fusedStep(named: name, hiddenSize: hiddenSize)
    }

    public static func packGateInterleaved(
        _ weights: UnsafePointer<Float>, gateCount: Int, hiddenSize: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        GateInterleaved.pack(weights, gateCount: gateCount, hiddenSize: hiddenSize, into: packed)
    }

    // MARK: Element-wise passes

    public static func add(_ other: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, count: Int) {
        VectorOps.add(other, into: row, count: count)
    }

    public static func accumulateColumnSums(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int,
        into sums: UnsafeMutablePointer<Float>
    ) {
        VectorOps.accumulateColumnSums(matrix, rows: rows, columns: columns, rowStride: rowStride, into: sums)
    }

    public static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Double {
        VectorOps.sumOfSquares(values, count: count)
    }

    public static func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        VectorOps.scale(values, count: count, by: factor)
    }

    public static func clamp(_ values: UnsafeMutablePointer<Float>, count: Int, limit: Float) {
        VectorOps.clamp(values, count: count, limit: limit)
    }

    public static func dropout(
        _ values: UnsafeMutablePointer<Float>, count: Int, key: UInt64, keepBelow: UInt32, scale: Float
    ) {
        VectorOps.dropout(values, count: count, key: key, keepBelow: keepBelow, scale: scale)
    }

    public static func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, count: Int, range: Range<Int>)
    {
        VectorOps.treeReduce(buffers, count: count, range: range)
    }

    public static func sgdUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        momentum buffer: UnsafeMutablePointer<Float>?, count: Int, learningRate: Float,
        momentum: Float, weightDecay: Float, firstStep: Bool
    ) {
        VectorOps.sgdUpdate(
            parameters: parameters, gradients: gradients, momentum: buffer, count: count,
            learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, firstStep: firstStep)
    }

    public static func adamUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
        count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
        weightDecay: Float, step: Int
    ) {
        VectorOps.adamUpdate(
            parameters: parameters, gradients: gradients, firstMoment: firstMoment,
            secondMoment: secondMoment, count: count, learningRate: learningRate,
            beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, step: step)
    }

    // MARK: Losses and activations

    public static func softmaxCrossEntropy(
        _ logits: UnsafeMutablePointer<Float>, count: Int, label: Int,
        scale: Float
    ) -> Double {
        LossKernel.softmaxCrossEntropy(logits, count: count, label: label, scale: scale)
    }

    public static func squaredError(
        _ outputs: UnsafeMutablePointer<Float>, targets: UnsafePointer<Float>,
        count: Int, scale: Float
    ) -> Double {
        LossKernel.squaredError(outputs, targets: targets, count: count, scale: scale)
    }

    public static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        Activation.exp(input, output, count: count)
    }

    public static func sigmoid(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        Activation.sigmoid(input, output, count: count)
    }

    public static func tanh(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        Activation.tanh(input, output, count: count)
    }

    public static func measurePeak(seconds: Double) -> Double {
        FMAPeak.measure(seconds: seconds)
    }
}

/// A packed multiply generated for one shape:
/// `GEMM.multiply(m:a:lda:transposeA:panels:k:columns:c:ldc:accumulate:scratch:)` with the depth and width fixed.
typealias PackedMultiplyKernel = (
    _ m: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ transposeA: Bool, _ panels: UnsafePointer<Float>,
    _ columns: Range<Int>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool, _ scratch: GEMMScratch
) -> Void
