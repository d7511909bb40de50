// The kernels' public entry points. Each forwards to the selected
// instruction-set variant (`KernelSelection.current`); the cells' kernels run
// the code generated for the step's hidden size where there is some.
//
// Every cell kernel honours per-row lengths: at a padded step
// (`time >= lengths[row]`) the state is carried over unchanged, the output is
// zero, and backward passes the state gradient through untouched with zero
// gate gradients.

/// Whether the selected kernels use fused multiply-add (one rounding per
/// `a * b + c`). Without it they use a separate multiply and add, never the
/// per-lane libm `fmaf` calls `SIMD.addingProduct` becomes on such a target.
public var targetHasFMA: Bool { KernelSelection.current.backend.hasFusedMultiplyAdd }

/// `h = act(W_ih x + b_ih + W_hh h' + b_hh)`; the gate buffer holds the
/// summed pre-activation and is overwritten with `h`.
public enum VanillaRNNKernel {
    public static func forward(_ step: CellStep, relu: Bool) {
        let selection = KernelSelection.current
        selection.backend.rnnForward(step, relu: relu, specialized: selection.usesSpecializedKernels)
    }

    /// Overwrites the gate buffer (holding `h`) with the pre-activation gradient.
    public static func backward(_ step: CellStep, _ gradient: CellGradientStep, relu: Bool) {
        let selection = KernelSelection.current
        selection.backend.rnnBackward(step, gradient, relu: relu, specialized: selection.usesSpecializedKernels)
    }
}

/// Gates i, f, g, o in PyTorch's order; `c = f c' + i g`, `h = o tanh(c)`.
/// The gate buffer holds the summed pre-activations and is overwritten with
/// the activated gates, which backward needs.
public enum LSTMKernel {
    public static func forward(_ step: CellStep, previousCell: UnsafePointer<Float>, cell: UnsafeMutablePointer<Float>) {
        let selection = KernelSelection.current
        selection.backend.lstmForward(step, previousCell: previousCell, cell: cell,
                                      specialized: selection.usesSpecializedKernels)
    }

    /// Overwrites the activated gates with pre-activation gradients and
    /// `cellGradient` (the cell-state gradient from the next step) with the
    /// previous step's.
    public static func backward(_ step: CellStep, _ gradient: CellGradientStep,
                                previousCell: UnsafePointer<Float>, cell: UnsafePointer<Float>,
                                cellGradient: UnsafeMutablePointer<Float>) {
        let selection = KernelSelection.current
        selection.backend.lstmBackward(step, gradient, previousCell: previousCell, cell: cell,
                                       cellGradient: cellGradient, specialized: selection.usesSpecializedKernels)
    }
}

/// Gates r, z, n in PyTorch's order: `r = σ(x_r + h_r)`, `z = σ(x_z + h_z)`,
/// `n = tanh(x_n + r (W_hn h' + b_hn))`, `h = (1 - z) n + z h'`. The input
/// and recurrent projections stay separate because `r` scales only the latter.
public enum GRUKernel {
    /// - Parameters:
    ///   - recurrent: `W_hh h'` for this step, `[rows, 3H]`, without bias.
    ///   - recurrentBias: `b_hh`, `[3H]`.
    ///   - candidateRecurrent: written: `W_hn h' + b_hn` per row, `[rows, H]`, kept for backward.
    public static func forward(_ step: CellStep, recurrent: UnsafePointer<Float>, recurrentBias: UnsafePointer<Float>,
                               candidateRecurrent: UnsafeMutablePointer<Float>) {
        let selection = KernelSelection.current
        selection.backend.gruForward(step, recurrent: recurrent, recurrentBias: recurrentBias,
                                     candidateRecurrent: candidateRecurrent,
                                     specialized: selection.usesSpecializedKernels)
    }

    /// Overwrites the gates with the input-side pre-activation gradients
    /// `[dr, dz, dn]` and `candidateRecurrent` with `dn * r`, and writes the
    /// recurrent-side gradients `[dr, dz, dn * r]` contiguously to
    /// `recurrentGradient` (`[rows, 3H]`) for this step's recurrent GEMM.
    public static func backward(_ step: CellStep, _ gradient: CellGradientStep,
                                candidateRecurrent: UnsafeMutablePointer<Float>,
                                recurrentGradient: UnsafeMutablePointer<Float>) {
        let selection = KernelSelection.current
        selection.backend.gruBackward(step, gradient, candidateRecurrent: candidateRecurrent,
                                      recurrentGradient: recurrentGradient,
                                      specialized: selection.usesSpecializedKernels)
    }
}

/// Element-wise passes over contiguous float arrays: column sums, the
/// gradient reduction, norms and the optimiser updates. Each walks its array
/// in a fixed order so that results never depend on how callers split work
/// between threads.
public enum VectorOps {
    /// `row += other` over `count` floats.
    public static func add(_ other: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, count: Int) {
        KernelSelection.current.backend.add(other, into: row, count: count)
    }

    /// `sums[j] += Σ_i matrix[i, j]`, rows summed in increasing order.
    public static func accumulateColumnSums(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int,
                                            into sums: UnsafeMutablePointer<Float>) {
        KernelSelection.current.backend.accumulateColumnSums(matrix, rows: rows, columns: columns, rowStride: rowStride,
                                                             into: sums)
    }

    /// `Σ values[i]²` accumulated in double precision, in a fixed order.
    public static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Double {
        KernelSelection.current.backend.sumOfSquares(values, count: count)
    }

    /// `values *= factor`.
    public static func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        KernelSelection.current.backend.scale(values, count: count, by: factor)
    }

    /// Clamps each value into `-limit...limit`.
    public static func clamp(_ values: UnsafeMutablePointer<Float>, count: Int, limit: Float) {
        KernelSelection.current.backend.clamp(values, count: count, limit: limit)
    }

    /// Sums `count` floats of each buffer in `buffers` into `buffers[0]`
    /// through a fixed pairwise tree (level by level: 0+1, 2+3, ...; then
    /// 0+2, ...), restricted to `range`. The tree's shape depends only on the
    /// number of buffers, so the sum is bit-identical however many threads
    /// share the ranges.
    public static func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, count: Int, range: Range<Int>) {
        KernelSelection.current.backend.treeReduce(buffers, count: count, range: range)
    }

    /// PyTorch's SGD: `g += wd p`; `b = μ b + g` (b = g on the first step);
    /// `p -= lr b` (plain `p -= lr g` without momentum).
    public static func sgdUpdate(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                                 momentum buffer: UnsafeMutablePointer<Float>?, count: Int, learningRate: Float,
                                 momentum: Float, weightDecay: Float, firstStep: Bool) {
        KernelSelection.current.backend.sgdUpdate(
            parameters: parameters, gradients: gradients, momentum: buffer, count: count,
            learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, firstStep: firstStep)
    }

    /// PyTorch's Adam (L2 weight decay added to the gradient, bias-corrected moments):
    /// `p -= lr / (1 - β1^t) * m / (sqrt(v) / sqrt(1 - β2^t) + eps)`.
    public static func adamUpdate(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                                  firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
                                  count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
                                  weightDecay: Float, step: Int) {
        KernelSelection.current.backend.adamUpdate(
            parameters: parameters, gradients: gradients, firstMoment: firstMoment, secondMoment: secondMoment,
            count: count, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, step: step)
    }
}

/// Per-row losses with their gradients written in place of the model outputs.
public enum LossKernel {
    /// Softmax cross-entropy of one row of logits against `label`: returns
    /// `logsumexp(x) - x[label]` and overwrites the logits with
    /// `scale * (softmax(x) - onehot(label))`.
    public static func softmaxCrossEntropy(_ logits: UnsafeMutablePointer<Float>, count: Int, label: Int,
                                           scale: Float) -> Double {
        KernelSelection.current.backend.softmaxCrossEntropy(logits, count: count, label: label, scale: scale)
    }

    /// Squared error of one row: returns `Σ (y - t)²` and overwrites the
    /// outputs with `scale * 2 (y - t)`.
    public static func squaredError(_ outputs: UnsafeMutablePointer<Float>, targets: UnsafePointer<Float>,
                                    count: Int, scale: Float) -> Double {
        KernelSelection.current.backend.squaredError(outputs, targets: targets, count: count, scale: scale)
    }
}

/// Element-wise activations over contiguous arrays, with the vectorized
/// exp, sigmoid and tanh the cell kernels use (Cephes' single-precision
/// range reductions and polynomials, accurate to a few ulp).
public enum Activation {
    public static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        KernelSelection.current.backend.exp(input, output, count: count)
    }

    public static func sigmoid(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        KernelSelection.current.backend.sigmoid(input, output, count: count)
    }

    public static func tanh(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        KernelSelection.current.backend.tanh(input, output, count: count)
    }
}
