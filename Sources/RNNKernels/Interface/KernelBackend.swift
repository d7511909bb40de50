/// One instruction set's kernels, as the dispatching `RNNKernels` module calls
/// them. Every variant module (`KernelsAVX512`, `KernelsAVX2`,
/// `KernelsBaseline`, `KernelsNEON`) conforms with the same generated code,
/// compiled for its own target; `RNNKernels` documents what each does.
///
/// Arguments are checked by `RNNKernels` before they arrive here. Calls with
/// `specialized` true run the kernels generated for the step's hidden size
/// (or the multiply's shape) when there are any, the generic ones otherwise.
public protocol KernelBackend: SendableMetatype {
    static var instructionSet: InstructionSet { get }
    /// Whether `multiplyAdd` is one fused instruction in this variant.
    static var hasFusedMultiplyAdd: Bool { get }
    /// Columns of a packed B panel (two vectors).
    static var panelWidth: Int { get }
    /// The hidden sizes with generated kernels, ascending.
    static var specializedHiddenSizes: [Int] { get }

    // MARK: GEMM

    static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>?, scratch: GEMMScratch)
    static func multiply(
        m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        _ first: GEMMProduct, _ second: GEMMProduct, accumulate: Bool, scratch: GEMMScratch)
    static func pack(
        _ b: UnsafePointer<Float>, ldb: Int, transposed: Bool, rows: Int, columns: Int,
        into panels: UnsafeMutablePointer<Float>)
    static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        panels: UnsafePointer<Float>, rows: Int, columnCount: Int, columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, scratch: GEMMScratch, specialized: Bool)

    // MARK: Cells

    /// The names of the cells this variant has kernels for.
    static var cellKernelNames: [String] { get }
    /// The kernel pair of the cell named `name` for layers of `hiddenSize`,
    /// or nil when there is no cell by that name.
    static func cellKernels(named name: String, hiddenSize: Int, specialized: Bool) -> CellKernelPair?
    /// The fused forward step generated for the cell named `name` at
    /// `hiddenSize`, or nil when the build made none.
    static func fusedStep(named name: String, hiddenSize: Int) -> FusedStepEntry?
    /// Packs W_hh (`[gateCount · hiddenSize, hiddenSize]`) for the fused step.
    static func packGateInterleaved(
        _ weights: UnsafePointer<Float>, gateCount: Int, hiddenSize: Int, into packed: UnsafeMutablePointer<Float>)

    // MARK: Element-wise passes

    static func add(_ other: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, count: Int)
    static func accumulateColumnSums(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int,
        into sums: UnsafeMutablePointer<Float>)
    static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Double
    static func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float)
    static func clamp(_ values: UnsafeMutablePointer<Float>, count: Int, limit: Float)
    static func dropout(
        _ values: UnsafeMutablePointer<Float>, count: Int, key: UInt64, keepBelow: UInt32, scale: Float)
    static func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, count: Int, range: Range<Int>)
    static func sgdUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        momentum buffer: UnsafeMutablePointer<Float>?, count: Int, learningRate: Float,
        momentum: Float, weightDecay: Float, firstStep: Bool)
    static func adamUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
        count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
        weightDecay: Float, step: Int)

    // MARK: Losses and activations

    static func softmaxCrossEntropy(_ logits: UnsafeMutablePointer<Float>, count: Int, label: Int, scale: Float)
        -> Double
    static func squaredError(
        _ outputs: UnsafeMutablePointer<Float>, targets: UnsafePointer<Float>,
        count: Int, scale: Float
    ) -> Double
    static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int)
    static func sigmoid(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int)
    static func tanh(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int)

    /// GFLOP/s of the calling thread on a register-only loop of this variant's FMAs.
    static func measurePeak(seconds: Double) -> Double
}

/// A fused forward step as a variant's registry returns it: the cell's gate
/// count (for packing its W_hh), and the step, which takes the step's buffers
/// and the weights packed by `KernelBackend.packGateInterleaved`.
public struct FusedStepEntry: Sendable {
    public let gateCount: Int
    public let forward: @Sendable (CellStep, UnsafePointer<Float>) -> Void

    public init(gateCount: Int, forward: @escaping @Sendable (CellStep, UnsafePointer<Float>) -> Void) {
        self.gateCount = gateCount
        self.forward = forward
    }
}
