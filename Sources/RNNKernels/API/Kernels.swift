// The kernels' public entry points, on a `Kernels` value: one instruction-set
// variant and kernel choice, resolved once (by an engine or predictor when it
// is built) and passed down, so that no hot path looks the selection up again.
//
// Every cell kernel honours per-row lengths: at a padded step
// (`time >= lengths[row]`) the state is carried over unchanged, the output is
// zero, and backward passes the state gradient through untouched with zero
// gate gradients.

/// The kernels of one `KernelSelection`, bound: every call runs that variant.
///
/// ```swift
/// let kernels = Kernels.current                  // the process's selection, resolved once
/// let lstm = kernels.cell(named: "lstm", hiddenSize: 128)
/// lstm.forward(step)                             // the kernels generated for hidden size 128
/// ```
public struct Kernels: Sendable {
    public let selection: KernelSelection
    let backend: any KernelBackend.Type

    /// The kernels of `selection`, which this binary and CPU must be able to run.
    public init(_ selection: KernelSelection) {
        precondition(
            KernelSelection.runnableInstructionSets.contains(selection.instructionSet),
            "Kernels: \(selection.instructionSet) cannot run here")
        self.selection = selection
        backend = selection.instructionSet.backend!
    }

    /// The kernels of `KernelSelection.current`.
    public static var current: Kernels { Kernels(KernelSelection.current) }

    /// Whether these kernels use fused multiply-add (one rounding per
    /// `a * b + c`). Without it they use a separate multiply and add, never the
    /// per-lane libm `fmaf` calls `SIMD.addingProduct` becomes on such a target.
    public var hasFusedMultiplyAdd: Bool { backend.hasFusedMultiplyAdd }

    /// The names of the cells there are kernels for.
    public var cellNames: [String] { backend.cellKernelNames }

    /// The kernel pair of the cell named `name` (`"lstm"`, `"gru"`,
    /// `"rnn_tanh"`, `"rnn_relu"`) for layers of `hiddenSize` units: the
    /// kernels generated for that size when the selection uses specialized
    /// kernels and the build made some, the generic ones otherwise. Nil when
    /// there is no cell by that name. Each cell documents, in the templates,
    /// which of the step's buffers it reads and writes.
    public func cell(named name: String, hiddenSize: Int) -> CellKernelPair? {
        backend.cellKernels(named: name, hiddenSize: hiddenSize, specialized: selection.usesSpecializedKernels)
    }
}

// MARK: - Element-wise passes

// Passes over contiguous float arrays: column sums, the gradient reduction,
// norms and the optimiser updates. Each walks its array in a fixed order so
// that results never depend on how callers split work between threads.
extension Kernels {
    /// `row += other` over `count` floats.
    public func add(_ other: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, count: Int) {
        backend.add(other, into: row, count: count)
    }

    /// `sums[j] += Σ_i matrix[i, j]`, rows summed in increasing order.
    public func accumulateColumnSums(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int,
        into sums: UnsafeMutablePointer<Float>
    ) {
        backend.accumulateColumnSums(
            matrix, rows: rows, columns: columns, rowStride: rowStride,
            into: sums)
    }

    /// `Σ values[i]²` accumulated in double precision, in a fixed order.
    public func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Double {
        backend.sumOfSquares(values, count: count)
    }

    /// `values *= factor`.
    public func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        backend.scale(values, count: count, by: factor)
    }

    /// Clamps each value into `-limit...limit`.
    public func clamp(_ values: UnsafeMutablePointer<Float>, count: Int, limit: Float) {
        backend.clamp(values, count: count, limit: limit)
    }

    /// Dropout's mask over `count` values: each is multiplied by `scale`
    /// where its draw (a hash of `key` and its index, of 2^32) is below
    /// `keepBelow`, and by 0 elsewhere. The same key gives the same mask.
    public func dropout(
        _ values: UnsafeMutablePointer<Float>, count: Int, key: UInt64, keepBelow: UInt32, scale: Float
    ) {
        backend.dropout(values, count: count, key: key, keepBelow: keepBelow, scale: scale)
    }

    /// Sums `count` floats of each buffer in `buffers` into `buffers[0]`
    /// through a fixed pairwise tree (level by level: 0+1, 2+3, ...; then
    /// 0+2, ...), restricted to `range`. The tree's shape depends only on the
    /// number of buffers, so the sum is bit-identical however many threads
    /// share the ranges.
    public func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, count: Int, range: Range<Int>) {
        backend.treeReduce(buffers, count: count, range: range)
    }

    /// PyTorch's SGD: `g += wd p`; `b = μ b + g` (b = g on the first step);
    /// `p -= lr b` (plain `p -= lr g` without momentum).
    public func sgdUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        momentum buffer: UnsafeMutablePointer<Float>?, count: Int, learningRate: Float,
        momentum: Float, weightDecay: Float, firstStep: Bool
    ) {
        backend.sgdUpdate(
            parameters: parameters, gradients: gradients, momentum: buffer, count: count,
            learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
            firstStep: firstStep)
    }

    /// PyTorch's Adam (L2 weight decay added to the gradient, bias-corrected moments):
    /// `p -= lr / (1 - β1^t) * m / (sqrt(v) / sqrt(1 - β2^t) + eps)`.
    public func adamUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
        count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
        weightDecay: Float, step: Int
    ) {
        backend.adamUpdate(
            parameters: parameters, gradients: gradients, firstMoment: firstMoment, secondMoment: secondMoment,
            count: count, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, step: step)
    }
}

// MARK: - Losses

// Per-row losses with their gradients written in place of the model outputs.
extension Kernels {
    /// Softmax cross-entropy of one row of logits against `label`: returns
    /// `logsumexp(x) - x[label]` and overwrites the logits with
    /// `scale * (softmax(x) - onehot(label))`.
    public func softmaxCrossEntropy(
        _ logits: UnsafeMutablePointer<Float>, count: Int, label: Int,
        scale: Float
    ) -> Double {
        backend.softmaxCrossEntropy(logits, count: count, label: label, scale: scale)
    }

    /// Squared error of one row: returns `Σ (y - t)²` and overwrites the
    /// outputs with `scale * 2 (y - t)`.
    public func squaredError(
        _ outputs: UnsafeMutablePointer<Float>, targets: UnsafePointer<Float>,
        count: Int, scale: Float
    ) -> Double {
        backend.squaredError(outputs, targets: targets, count: count, scale: scale)
    }
}

// MARK: - Activations

// Element-wise activations over contiguous arrays, with the vectorized exp,
// sigmoid and tanh the cell kernels use (Cephes' single-precision range
// reductions and polynomials, accurate to a few ulp).
extension Kernels {
    public func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        backend.exp(input, output, count: count)
    }

    public func sigmoid(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        backend.sigmoid(input, output, count: count)
    }

    public func tanh(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        backend.tanh(input, output, count: count)
    }
}
