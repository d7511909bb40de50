import KernelInterface

// The element-wise ("post-GEMM") part of each cell, one forward and one
// backward kernel per cell kind, after oneDNN's split. The GEMMs and the walk
// over layers, directions and time live in the driver; these kernels see one
// timestep of one direction: `rows` batch rows and the hidden units in
// `units` (all `hiddenSize` of them unless a team of threads splits the step
// by units).
//
// Every kernel honours per-row lengths: at a padded step (`time >= lengths[row]`)
// the state is carried over unchanged, the output is zero, and backward passes
// the state gradient through untouched with zero gate gradients.

/// A cell's kernel pair, written once for any hidden size and always
/// inlined. The kernels unwrap the step's optional buffers unchecked: the
/// driver fills every one its cell declares, and a checked unwrap's trap
/// blocks grow the generated kernels past the inliner's limit, leaving the
/// vector tanh an out-of-line call. The kernel generator finds every `enum Name: CellKernel` in the
/// templates and makes its entry points: one that reads the hidden size from
/// the step, and one per configured hidden size with the size a constant, so
/// that every trip count is fixed. Adding a cell's kernels is adding one such
/// type.
protocol CellKernel {
    /// The name RNNKit's cell asks for its kernels by.
    static var name: String { get }
    static func forward(_ step: CellStep, hiddenSize: Int)
    static func backward(_ step: CellStep, _ gradient: CellGradientStep, hiddenSize: Int)
}

extension CellStep {
    /// The padded-row rule of every forward kernel: a padded row keeps its
    /// hidden (and cell) state and outputs zeros. Returns whether `row` is active.
    @inline(__always)
    func carryOverIfPadded(row: Int, hiddenSize size: Int) -> Bool {
        if isActive(row: row) { return true }
        let start = row * size + units.lowerBound
        (hidden + start).update(from: previousHidden + start, count: units.count)
        if let cell { (cell + start).update(from: previousCell.unsafelyUnwrapped + start, count: units.count) }
        (output + row * outputStride + units.lowerBound).update(repeating: 0, count: units.count)
        return false
    }
}

extension CellGradientStep {
    /// At a padded step the output is a constant zero, so only the state
    /// gradient from the next step passes through to the previous state.
    @inline(__always)
    func carriedHiddenGradient(row: Int, hiddenSize: Int, offset: Int, lanes: Int) -> Vector {
        load(hidden + row * hiddenSize + offset, lanes: lanes)
    }

    /// The total gradient on the hidden state at `row`, units `offset..<offset+lanes`.
    @inline(__always)
    func hiddenGradient(row: Int, hiddenSize: Int, offset: Int, lanes: Int) -> Vector {
        var gradient = load(hidden + row * hiddenSize + offset, lanes: lanes)
        if let output { gradient += load(output + row * outputStride + offset, lanes: lanes) }
        return gradient
    }
}

// MARK: - Vanilla RNN

/// `h = tanh(W_ih x + b_ih + W_hh h' + b_hh)`.
enum VanillaTanhKernel: CellKernel {
    static var name: String { "rnn_tanh" }

    @inline(__always)
    static func forward(_ step: CellStep, hiddenSize: Int) {
        VanillaRNN.forward(step, hiddenSize: hiddenSize, relu: false)
    }

    @inline(__always)
    static func backward(_ step: CellStep, _ gradient: CellGradientStep, hiddenSize: Int) {
        VanillaRNN.backward(step, gradient, hiddenSize: hiddenSize, relu: false)
    }
}

/// `h = relu(W_ih x + b_ih + W_hh h' + b_hh)`.
enum VanillaReLUKernel: CellKernel {
    static var name: String { "rnn_relu" }

    @inline(__always)
    static func forward(_ step: CellStep, hiddenSize: Int) {
        VanillaRNN.forward(step, hiddenSize: hiddenSize, relu: true)
    }

    @inline(__always)
    static func backward(_ step: CellStep, _ gradient: CellGradientStep, hiddenSize: Int) {
        VanillaRNN.backward(step, gradient, hiddenSize: hiddenSize, relu: true)
    }
}

/// The two vanilla cells' shared body: the gate buffer holds the summed
/// pre-activation and is overwritten with `h`; backward overwrites it with
/// the pre-activation gradient.
enum VanillaRNN {
    @inline(__always)
    static func forward(_ step: CellStep, hiddenSize size: Int, relu: Bool) {
        for row in 0..<step.rows where step.carryOverIfPadded(row: row, hiddenSize: size) {
            let gates = step.gates + row * size
            let hidden = step.hidden + row * size
            let output = step.output + row * step.outputStride
            forEachChunk(of: step.units) { offset, lanes in
                let pre = load(gates + offset, lanes: lanes)
                let h = relu ? pre.replacing(with: 0, where: pre .< 0) : vectorTanh(pre)
                if step.keepsForBackward { store(h, gates + offset, lanes: lanes) }
                store(h, hidden + offset, lanes: lanes)
                store(h, output + offset, lanes: lanes)
            }
        }
    }

    @inline(__always)
    static func backward(_ step: CellStep, _ gradient: CellGradientStep, hiddenSize size: Int, relu: Bool) {
        for row in 0..<step.rows {
            let gates = step.gates + row * size
            let previous = gradient.previousHidden + row * size
            let active = step.isActive(row: row)
            forEachChunk(of: step.units) { offset, lanes in
                let dh = gradient.hiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes)
                guard active else {
                    store(Vector(), gates + offset, lanes: lanes)
                    store(
                        gradient.carriedHiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes),
                        previous + offset, lanes: lanes)
                    return
                }
                let h = load(gates + offset, lanes: lanes)
                let derivative = relu ? Vector(repeating: 1).replacing(with: 0, where: h .<= 0) : 1 - h * h
                store(dh * derivative, gates + offset, lanes: lanes)
                store(Vector(), previous + offset, lanes: lanes)
            }
        }
    }
}

// MARK: - LSTM

/// Gates i, f, g, o in PyTorch's order; `c = f c' + i g`, `h = o tanh(c)`.
/// The gate buffer holds the summed pre-activations and is overwritten with
/// the activated gates, which backward needs; backward overwrites them with
/// the pre-activation gradients and the cell-state gradient (from the next
/// step) with the previous step's.
enum LSTMKernel: CellKernel {
    static var name: String { "lstm" }

    @inline(__always)
    static func forward(_ step: CellStep, hiddenSize size: Int) {
        for row in 0..<step.rows where step.carryOverIfPadded(row: row, hiddenSize: size) {
            forEachChunk(of: step.units) { offset, lanes in
                update(step, row: row, offset: offset, lanes: lanes, hiddenSize: size)
            }
        }
    }

    /// The update of one active row's units `offset..<offset+lanes` from
    /// their summed pre-activations in the gate buffer, which it overwrites
    /// with the activated gates when they are kept for backward.
    @inline(__always)
    static func update(_ step: CellStep, row: Int, offset: Int, lanes: Int, hiddenSize size: Int) {
        let gates = step.gates + row * 4 * size
        let i = vectorSigmoid(load(gates + offset, lanes: lanes))
        let f = vectorSigmoid(load(gates + size + offset, lanes: lanes))
        let g = vectorTanh(load(gates + 2 * size + offset, lanes: lanes))
        let o = vectorSigmoid(load(gates + 3 * size + offset, lanes: lanes))
        let c = multiplyAdd(f, load(step.previousCell.unsafelyUnwrapped + row * size + offset, lanes: lanes), i * g)
        let h = o * vectorTanh(c)
        if step.keepsForBackward {
            store(i, gates + offset, lanes: lanes)
            store(f, gates + size + offset, lanes: lanes)
            store(g, gates + 2 * size + offset, lanes: lanes)
            store(o, gates + 3 * size + offset, lanes: lanes)
        }
        store(c, step.cell.unsafelyUnwrapped + row * size + offset, lanes: lanes)
        store(h, step.hidden + row * size + offset, lanes: lanes)
        store(h, step.output + row * step.outputStride + offset, lanes: lanes)
    }

    @inline(__always)
    static func backward(_ step: CellStep, _ gradient: CellGradientStep, hiddenSize size: Int) {
        let previousCell = UnsafePointer(step.previousCell.unsafelyUnwrapped),
            cell = UnsafePointer(step.cell.unsafelyUnwrapped)
        let cellGradient = gradient.cell.unsafelyUnwrapped
        for row in 0..<step.rows {
            let gates = step.gates + row * 4 * size
            let dCell = cellGradient + row * size
            let previous = gradient.previousHidden + row * size
            let active = step.isActive(row: row)
            forEachChunk(of: step.units) { offset, lanes in
                let dh = gradient.hiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes)
                guard active else {
                    for gate in 0..<4 { store(Vector(), gates + gate * size + offset, lanes: lanes) }
                    store(
                        gradient.carriedHiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes),
                        previous + offset, lanes: lanes)
                    return
                }
                let i = load(gates + offset, lanes: lanes)
                let f = load(gates + size + offset, lanes: lanes)
                let g = load(gates + 2 * size + offset, lanes: lanes)
                let o = load(gates + 3 * size + offset, lanes: lanes)
                let tanhC = vectorTanh(load(cell + row * size + offset, lanes: lanes))
                let dc = multiplyAdd(dh * o, 1 - tanhC * tanhC, load(dCell + offset, lanes: lanes))
                let cPrevious = load(previousCell + row * size + offset, lanes: lanes)
                store(dc * g * i * (1 - i), gates + offset, lanes: lanes)
                store(dc * cPrevious * f * (1 - f), gates + size + offset, lanes: lanes)
                store(dc * i * (1 - g * g), gates + 2 * size + offset, lanes: lanes)
                store(dh * tanhC * o * (1 - o), gates + 3 * size + offset, lanes: lanes)
                store(dc * f, dCell + offset, lanes: lanes)
                store(Vector(), previous + offset, lanes: lanes)
            }
        }
    }
}

// MARK: - GRU

/// Gates r, z, n in PyTorch's order: `r = σ(x_r + h_r)`, `z = σ(x_z + h_z)`,
/// `n = tanh(x_n + r (W_hn h' + b_hn))`, `h = (1 - z) n + z h'`. The input
/// and recurrent projections stay separate because `r` scales only the latter.
///
/// Forward reads `W_hh h'` (without bias) from `recurrent` and `b_hh` from
/// `cellParameters`, and keeps `W_hn h' + b_hn` in `saved` (`[rows, H]`).
/// Backward overwrites the gates with the input-side pre-activation
/// gradients `[dr, dz, dn]` and `saved` with `dn * r`, and writes the
/// recurrent-side gradients `[dr, dz, dn * r]` to `recurrent` for this
/// step's recurrent GEMM.
enum GRUKernel: CellKernel {
    static var name: String { "gru" }

    @inline(__always)
    static func forward(_ step: CellStep, hiddenSize size: Int) {
        let recurrent = UnsafePointer(step.recurrent.unsafelyUnwrapped),
            recurrentBias = step.cellParameters.unsafelyUnwrapped
        let candidateRecurrent = step.saved.unsafelyUnwrapped
        for row in 0..<step.rows {
            guard step.carryOverIfPadded(row: row, hiddenSize: size) else {
                (candidateRecurrent + row * size + step.units.lowerBound).update(repeating: 0, count: step.units.count)
                continue
            }
            let gates = step.gates + row * 3 * size
            let hiddenPart = recurrent + row * 3 * size
            let hidden = step.hidden + row * size
            let output = step.output + row * step.outputStride
            forEachChunk(of: step.units) { offset, lanes in
                let hr = load(hiddenPart + offset, lanes: lanes) + load(recurrentBias + offset, lanes: lanes)
                let hz =
                    load(hiddenPart + size + offset, lanes: lanes) + load(recurrentBias + size + offset, lanes: lanes)
                let hn =
                    load(hiddenPart + 2 * size + offset, lanes: lanes)
                    + load(recurrentBias + 2 * size + offset, lanes: lanes)
                let r = vectorSigmoid(load(gates + offset, lanes: lanes) + hr)
                let z = vectorSigmoid(load(gates + size + offset, lanes: lanes) + hz)
                let n = vectorTanh(multiplyAdd(r, hn, load(gates + 2 * size + offset, lanes: lanes)))
                let hPrevious = load(step.previousHidden + row * size + offset, lanes: lanes)
                let h = multiplyAdd(z, hPrevious - n, n)
                if step.keepsForBackward {
                    store(r, gates + offset, lanes: lanes)
                    store(z, gates + size + offset, lanes: lanes)
                    store(n, gates + 2 * size + offset, lanes: lanes)
                    store(hn, candidateRecurrent + row * size + offset, lanes: lanes)
                }
                store(h, hidden + offset, lanes: lanes)
                store(h, output + offset, lanes: lanes)
            }
        }
    }

    @inline(__always)
    static func backward(_ step: CellStep, _ gradient: CellGradientStep, hiddenSize size: Int) {
        let candidateRecurrent = step.saved.unsafelyUnwrapped, recurrentGradient = step.recurrent.unsafelyUnwrapped
        for row in 0..<step.rows {
            let gates = step.gates + row * 3 * size
            let hiddenSide = recurrentGradient + row * 3 * size
            let candidate = candidateRecurrent + row * size
            let previous = gradient.previousHidden + row * size
            let active = step.isActive(row: row)
            forEachChunk(of: step.units) { offset, lanes in
                let dh = gradient.hiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes)
                guard active else {
                    for gate in 0..<3 {
                        store(Vector(), gates + gate * size + offset, lanes: lanes)
                        store(Vector(), hiddenSide + gate * size + offset, lanes: lanes)
                    }
                    store(Vector(), candidate + offset, lanes: lanes)
                    store(
                        gradient.carriedHiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes),
                        previous + offset, lanes: lanes)
                    return
                }
                let r = load(gates + offset, lanes: lanes)
                let z = load(gates + size + offset, lanes: lanes)
                let n = load(gates + 2 * size + offset, lanes: lanes)
                let hn = load(candidate + offset, lanes: lanes)
                let hPrevious = load(step.previousHidden + row * size + offset, lanes: lanes)
                let dn = dh * (1 - z) * (1 - n * n)
                let dz = dh * (hPrevious - n) * z * (1 - z)
                let dr = dn * hn * r * (1 - r)
                store(dr, gates + offset, lanes: lanes)
                store(dz, gates + size + offset, lanes: lanes)
                store(dn, gates + 2 * size + offset, lanes: lanes)
                store(dr, hiddenSide + offset, lanes: lanes)
                store(dz, hiddenSide + size + offset, lanes: lanes)
                store(dn * r, hiddenSide + 2 * size + offset, lanes: lanes)
                store(dn * r, candidate + offset, lanes: lanes)
                store(dh * z, previous + offset, lanes: lanes)
            }
        }
    }
}

// MARK: - Layer-normalised LSTM

/// Ba et al.'s layer-normalised LSTM, as Haste's `LayerNormLSTM` with gains
/// and biases on every norm (Tests/Fixtures/LAYER_NORM_LSTM.md):
/// `pre = LN(W_ih x; γ_ih, β_ih) + LN(W_hh h'; γ_hh, β_hh)` over all 4H
/// gate columns, gates i, f, g, o and `c = f c' + i g` as in the LSTM, and
/// `h = o tanh(LN(c; γ_c, β_c))` over the H units. Each norm is
/// `(x - μ) / sqrt(σ² + 1e-5)` with the biased variance, as PyTorch's.
///
/// The norms need every column of a row, so the driver never splits this
/// cell's step by units: each call computes whole rows. Buffers:
/// - `gates`: `W_ih x` (no bias); forward leaves the activated gates, backward
///   the input side's gradient `d(W_ih x)`.
/// - `recurrent`: `W_hh h'` (no bias); backward leaves `d(W_hh h')`.
/// - `cellParameters`: `[γ_ih | β_ih | γ_hh | β_hh]` (4H each), `[γ_c | β_c]` (H each).
/// - `saved`, `savedWidth = 18H + 3` per row. Forward keeps the normalised
///   values `â` at 4H, `r̂` at 8H, `ĉ` at 16H and the three `1/sqrt(σ² + ε)`
///   at 18H. Backward overwrites the row with what the weight gradients sum:
///   `d(W_hh h')` at 0, `dpre ⊙ â` at 4H, `dpre ⊙ r̂` at 8H, `dpre` at 12H,
///   `dn ⊙ ĉ` at 16H and `dn` at 17H, `n` being the cell norm's output.
enum LayerNormLSTMKernel: CellKernel {
    static var name: String { "lstm_ln" }

    static let epsilon: Float = 1e-5

    @inline(__always)
    static func savedWidth(hiddenSize: Int) -> Int { 18 * hiddenSize + 3 }

    @inline(__always)
    static func forward(_ step: CellStep, hiddenSize size: Int) {
        let previousCell = step.previousCell.unsafelyUnwrapped, cell = step.cell.unsafelyUnwrapped
        let recurrent = UnsafePointer(step.recurrent.unsafelyUnwrapped),
            parameters = step.cellParameters.unsafelyUnwrapped
        let width = 4 * size, savedWidth = savedWidth(hiddenSize: size)
        let inputGain = parameters, inputBias = parameters + width
        let recurrentGain = parameters + 2 * width, recurrentBias = parameters + 3 * width
        let cellGain = parameters + 4 * width, cellBias = parameters + 4 * width + size
        for row in 0..<step.rows where step.carryOverIfPadded(row: row, hiddenSize: size) {
            let gates = step.gates + row * width, projection = recurrent + row * width
            let saved = step.saved.unsafelyUnwrapped + row * savedWidth
            let (inputMean, inputScale) = normalization(UnsafePointer(gates), count: width)
            let (recurrentMean, recurrentScale) = normalization(projection, count: width)
            // pre = γ_ih â + β_ih + γ_hh r̂ + β_hh, with â and r̂ kept.
            forEachChunk(width) { offset, lanes in
                let a = (load(gates + offset, lanes: lanes) - inputMean) * inputScale
                let r = (load(projection + offset, lanes: lanes) - recurrentMean) * recurrentScale
                let input = multiplyAdd(
                    load(inputGain + offset, lanes: lanes), a, load(inputBias + offset, lanes: lanes))
                let pre = multiplyAdd(
                    load(recurrentGain + offset, lanes: lanes), r,
                    input + load(recurrentBias + offset, lanes: lanes))
                store(a, saved + 4 * size + offset, lanes: lanes)
                store(r, saved + 8 * size + offset, lanes: lanes)
                store(pre, gates + offset, lanes: lanes)
            }
            let cellRow = cell + row * size
            forEachChunk(size) { offset, lanes in
                let i = vectorSigmoid(load(gates + offset, lanes: lanes))
                let f = vectorSigmoid(load(gates + size + offset, lanes: lanes))
                let g = vectorTanh(load(gates + 2 * size + offset, lanes: lanes))
                let o = vectorSigmoid(load(gates + 3 * size + offset, lanes: lanes))
                let c = multiplyAdd(f, load(previousCell + row * size + offset, lanes: lanes), i * g)
                store(i, gates + offset, lanes: lanes)
                store(f, gates + size + offset, lanes: lanes)
                store(g, gates + 2 * size + offset, lanes: lanes)
                store(o, gates + 3 * size + offset, lanes: lanes)
                store(c, cellRow + offset, lanes: lanes)
            }
            let (cellMean, cellScale) = normalization(UnsafePointer(cellRow), count: size)
            let hidden = step.hidden + row * size, output = step.output + row * step.outputStride
            forEachChunk(size) { offset, lanes in
                let normalized = (load(cellRow + offset, lanes: lanes) - cellMean) * cellScale
                let n = multiplyAdd(
                    load(cellGain + offset, lanes: lanes), normalized, load(cellBias + offset, lanes: lanes))
                let h = load(gates + 3 * size + offset, lanes: lanes) * vectorTanh(n)
                store(normalized, saved + 16 * size + offset, lanes: lanes)
                store(h, hidden + offset, lanes: lanes)
                store(h, output + offset, lanes: lanes)
            }
            saved[18 * size] = inputScale
            saved[18 * size + 1] = recurrentScale
            saved[18 * size + 2] = cellScale
        }
    }

    @inline(__always)
    static func backward(_ step: CellStep, _ gradient: CellGradientStep, hiddenSize size: Int) {
        let previousCell = step.previousCell.unsafelyUnwrapped, cellGradient = gradient.cell.unsafelyUnwrapped
        let recurrent = step.recurrent.unsafelyUnwrapped, parameters = step.cellParameters.unsafelyUnwrapped
        let width = 4 * size, savedWidth = savedWidth(hiddenSize: size)
        let inputGain = parameters, recurrentGain = parameters + 2 * width, cellGain = parameters + 4 * width
        let cellBias = cellGain + size
        for row in 0..<step.rows {
            let gates = step.gates + row * width, projection = recurrent + row * width
            let saved = step.saved.unsafelyUnwrapped + row * savedWidth
            let dCell = cellGradient + row * size
            let previous = gradient.previousHidden + row * size
            guard step.isActive(row: row) else {
                // Nothing of a padded step reaches the weights; the state gradients pass through.
                gates.update(repeating: 0, count: width)
                projection.update(repeating: 0, count: width)
                saved.update(repeating: 0, count: 18 * size)
                forEachChunk(size) { offset, lanes in
                    store(
                        gradient.carriedHiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes),
                        previous + offset, lanes: lanes)
                }
                continue
            }
            let cellScale = saved[18 * size + 2]
            // dn = dh o (1 - tanh²n); dpre_o = dh tanh(n) o (1 - o); the cell norm's sums.
            var normSum = Vector(), normDot = Vector()
            forEachChunk(size) { offset, lanes in
                let dh = gradient.hiddenGradient(row: row, hiddenSize: size, offset: offset, lanes: lanes)
                let o = load(gates + 3 * size + offset, lanes: lanes)
                let normalized = load(saved + 16 * size + offset, lanes: lanes)
                let gain = load(cellGain + offset, lanes: lanes)
                let tanhN = vectorTanh(multiplyAdd(gain, normalized, load(cellBias + offset, lanes: lanes)))
                let dn = dh * o * (1 - tanhN * tanhN)
                store(dh * tanhN * o * (1 - o), saved + 15 * size + offset, lanes: lanes)
                store(dn, saved + 17 * size + offset, lanes: lanes)
                let dNormalized = dn * gain
                normSum += dNormalized
                normDot += dNormalized * normalized
            }
            let normMean = normSum.sum() / Float(size), normDotMean = normDot.sum() / Float(size)
            // dc = LN backward + the next step's; the LSTM's gates; dc' = dc f.
            forEachChunk(size) { offset, lanes in
                let normalized = load(saved + 16 * size + offset, lanes: lanes)
                let dn = load(saved + 17 * size + offset, lanes: lanes)
                let dNormalized = dn * load(cellGain + offset, lanes: lanes)
                let fromNorm = (dNormalized - normMean - normalized * normDotMean) * cellScale
                let dc = fromNorm + load(dCell + offset, lanes: lanes)
                let i = load(gates + offset, lanes: lanes)
                let f = load(gates + size + offset, lanes: lanes)
                let g = load(gates + 2 * size + offset, lanes: lanes)
                let cPrevious = load(previousCell + row * size + offset, lanes: lanes)
                store(dc * g * i * (1 - i), saved + 12 * size + offset, lanes: lanes)
                store(dc * cPrevious * f * (1 - f), saved + 13 * size + offset, lanes: lanes)
                store(dc * i * (1 - g * g), saved + 14 * size + offset, lanes: lanes)
                store(dc * f, dCell + offset, lanes: lanes)
                store(dn * normalized, saved + 16 * size + offset, lanes: lanes)
                store(Vector(), previous + offset, lanes: lanes)
            }
            // The two projections' norms, from dpre.
            var inputSum = Vector(), inputDot = Vector(), recurrentSum = Vector(), recurrentDot = Vector()
            forEachChunk(width) { offset, lanes in
                let dpre = load(saved + 12 * size + offset, lanes: lanes)
                let dInput = dpre * load(inputGain + offset, lanes: lanes)
                let dRecurrent = dpre * load(recurrentGain + offset, lanes: lanes)
                inputSum += dInput
                inputDot += dInput * load(saved + 4 * size + offset, lanes: lanes)
                recurrentSum += dRecurrent
                recurrentDot += dRecurrent * load(saved + 8 * size + offset, lanes: lanes)
            }
            let count = Float(width)
            let inputMean = inputSum.sum() / count, inputDotMean = inputDot.sum() / count
            let recurrentMean = recurrentSum.sum() / count, recurrentDotMean = recurrentDot.sum() / count
            let inputScale = saved[18 * size], recurrentScale = saved[18 * size + 1]
            forEachChunk(width) { offset, lanes in
                let dpre = load(saved + 12 * size + offset, lanes: lanes)
                let a = load(saved + 4 * size + offset, lanes: lanes)
                let r = load(saved + 8 * size + offset, lanes: lanes)
                let dInput = dpre * load(inputGain + offset, lanes: lanes)
                let dRecurrent = dpre * load(recurrentGain + offset, lanes: lanes)
                let da = (dInput - inputMean - a * inputDotMean) * inputScale
                let dr = (dRecurrent - recurrentMean - r * recurrentDotMean) * recurrentScale
                store(da, gates + offset, lanes: lanes)
                store(dr, projection + offset, lanes: lanes)
                store(dr, saved + offset, lanes: lanes)
                store(dpre * a, saved + 4 * size + offset, lanes: lanes)
                store(dpre * r, saved + 8 * size + offset, lanes: lanes)
            }
        }
    }

    /// The mean of `count` floats and `1 / sqrt(σ² + ε)`, σ² the biased
    /// variance about that mean (summed as squared deviations, not as
    /// `E[x²] - μ²`, which loses the variance of rows far from zero).
    @inline(__always)
    static func normalization(_ values: UnsafePointer<Float>, count: Int) -> (mean: Float, scale: Float) {
        var sum = Vector()
        forEachChunk(count) { offset, lanes in sum += load(values + offset, lanes: lanes) }
        let mean = sum.sum() / Float(count)
        var squares = Vector()
        forEachChunk(count) { offset, lanes in
            var deviation = load(values + offset, lanes: lanes) - mean
            if lanes < Vector.scalarCount {
                deviation = deviation.replacing(with: 0, where: laneIndices .>= Float(lanes))
            }
            squares = multiplyAdd(deviation, deviation, squares)
        }
        let variance = squares.sum() / Float(count)
        return (mean, 1 / (variance + epsilon).squareRoot())
    }

    /// 0, 1, 2, ... in the vector's lanes.
    @inline(__always)
    static var laneIndices: Vector {
        var indices = Vector()
        for lane in 0..<Vector.scalarCount { indices[lane] = Float(lane) }
        return indices
    }
}
