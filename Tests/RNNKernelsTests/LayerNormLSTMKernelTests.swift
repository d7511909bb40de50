import Foundation
import Testing
@testable import RNNKernels

// The layer-normalised LSTM's kernels against a scalar double-precision
// reference (Tests/Fixtures/LAYER_NORM_LSTM.md), on every variant and hidden
// size `CellShape.all` covers, with guards around every buffer; and a step
// computed in two row blocks equals the whole step bit for bit, since the
// driver splits this cell's steps by rows.
//
// A norm multiplies its input's rounding error by 1/σ, and its backward
// subtracts row means of products, so values near zero (`dn ⊙ ĉ` where `c`
// sits near its row's mean, over rows of 4096 on SSE2's four-lane sums) are
// only accurate relative to the size of their terms: the absolute floor is
// 1e-5 rather than the suite's 1e-6.
private let floor = 1e-5

/// One step's buffers of the layer-normalised LSTM, guarded.
private final class LayerNormStep {
    let shape: CellShape
    let buffers: StepBuffers
    let recurrent, parameters, previousCell, cell, saved: GuardedBuffer
    let running, outputGradient, previousGradient, cellGradient: GuardedBuffer
    var savedWidth: Int { 18 * shape.hiddenSize + 3 }

    init(_ shape: CellShape) {
        self.shape = shape
        let h = shape.hiddenSize, rows = shape.rows
        var random = TestRandom(seed: shape.seed ^ 0x4C4E)
        buffers = StepBuffers(
            shape, gates: random.floats(rows * 4 * h, -2, 2), previousHidden: random.floats(rows * h, -1, 1))
        recurrent = GuardedBuffer(random.floats(rows * 4 * h, -2, 2))
        // Gains around 1, biases around 0, in the cell's packed order.
        var values: [Float] = []
        for block in 0..<6 {
            let (low, high): (Float, Float) = block % 2 == 0 ? (0.5, 1.5) : (-0.5, 0.5)
            values += random.floats(block < 4 ? 4 * h : h, low, high)
        }
        parameters = GuardedBuffer(values)
        previousCell = GuardedBuffer(random.floats(rows * h, -1, 1))
        cell = GuardedBuffer(count: rows * h)
        saved = GuardedBuffer(count: rows * (18 * h + 3))
        running = GuardedBuffer(random.floats(rows * h, -1, 1))
        outputGradient = GuardedBuffer(random.floats(rows * shape.outputStride, -1, 1))
        previousGradient = GuardedBuffer(count: rows * h)
        cellGradient = GuardedBuffer(random.floats(rows * h, -1, 1))
    }

    /// The step over `rows` (all by default), as the driver hands it to the kernels.
    func run(forward: Bool, rows: Range<Int>? = nil, lengths: UnsafePointer<Int32>?) {
        let h = shape.hiddenSize, rows = rows ?? 0..<shape.rows, first = rows.lowerBound
        var step = CellStep(
            rows: rows.count, hiddenSize: h, time: shape.time, lengths: lengths.map { $0 + first },
            gates: buffers.gates.pointer + first * 4 * h,
            previousHidden: buffers.previousHidden.pointer + first * h,
            hidden: buffers.hidden.pointer + first * h,
            output: buffers.output.pointer + first * shape.outputStride + shape.outputOffset,
            outputStride: shape.outputStride)
        step.previousCell = UnsafePointer(previousCell.pointer + first * h)
        step.cell = cell.pointer + first * h
        step.recurrent = recurrent.pointer + first * 4 * h
        step.saved = saved.pointer + first * savedWidth
        step.cellParameters = UnsafePointer(parameters.pointer)
        let kernels = Kernels.current.cell(named: "lstm_ln", hiddenSize: h)!
        if forward { return kernels.forward(step) }
        kernels.backward(
            step,
            CellGradientStep(
                hidden: running.pointer + first * h,
                output: outputGradient.pointer + first * shape.outputStride + shape.outputOffset,
                outputStride: shape.outputStride, previousHidden: previousGradient.pointer + first * h,
                cell: cellGradient.pointer + first * h))
    }

    var all: [GuardedBuffer] {
        [
            buffers.gates, buffers.previousHidden, buffers.hidden, buffers.output, recurrent, parameters, previousCell,
            cell,
            saved, running, outputGradient, previousGradient, cellGradient
        ]
    }
}

/// `(x - mean) / sqrt(var + 1e-5)` with the biased variance, and that scale.
private func normalized(_ x: [Double]) -> ([Double], Double) {
    let mean = x.reduce(0, +) / Double(x.count)
    let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
    let scale = 1 / (variance + 1e-5).squareRoot()
    return (x.map { ($0 - mean) * scale }, scale)
}

/// LayerNorm's backward: `dx` from `dy ⊙ γ` (`dNormalized`), the normalised values and the scale.
private func normBackward(_ dNormalized: [Double], _ normalized: [Double], scale: Double) -> [Double] {
    let n = Double(dNormalized.count)
    let mean = dNormalized.reduce(0, +) / n
    let dot = zip(dNormalized, normalized).reduce(0) { $0 + $1.0 * $1.1 } / n
    return zip(dNormalized, normalized).map { (dx, x) in (dx - mean - x * dot) * scale }
}

private func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

@Test("Layer-normalised LSTM forward and backward match the reference", arguments: CellShape.all)
func layerNormLSTMMatchesTheReference(shape: CellShape) {
    let h = shape.hiddenSize, rows = shape.rows
    let step = LayerNormStep(shape)
    let a = step.buffers.gates.values.map(Double.init), r = step.recurrent.values.map(Double.init)
    let p = step.parameters.values.map(Double.init)
    let cPrevious = step.previousCell.values.map(Double.init)
    let hiddenBefore = step.buffers.previousHidden.values, cellBefore = step.previousCell.values
    let running = step.running.values, outputGradient = step.outputGradient.values
    let cellGradientBefore = step.cellGradient.values
    func block(_ values: [Double], _ index: Int, _ width: Int) -> [Double] {
        Array(values[index * width..<(index + 1) * width])
    }
    let (gainIH, biasIH, gainHH, biasHH) = (
        block(p, 0, 4 * h), block(p, 1, 4 * h), block(p, 2, 4 * h), block(p, 3, 4 * h)
    )
    let gainC = Array(p[16 * h..<17 * h]), biasC = Array(p[17 * h..<18 * h])

    var gates = [Expected](repeating: .any, count: rows * 4 * h), hidden = [Expected](repeating: .any, count: rows * h)
    var output = untouched(step.buffers.output), cell = [Expected](repeating: .any, count: rows * h)
    var saved = [Expected](repeating: .any, count: rows * step.savedWidth)
    var dGates = gates, dRecurrent = [Expected](repeating: .any, count: rows * 4 * h)
    var dSaved = saved, dPrevious = hidden, dCell = hidden
    for row in 0..<rows {
        let units = row * h..<(row + 1) * h, savedRow = row * step.savedWidth
        guard shape.isActive(row) else {
            for unit in 0..<h {
                hidden[row * h + unit] = .exact(hiddenBefore[row * h + unit])
                cell[row * h + unit] = .exact(cellBefore[row * h + unit])
                output[shape.outputIndex(row: row, unit: unit)] = .exact(0)
                dPrevious[row * h + unit] = .exact(running[row * h + unit])
                dCell[row * h + unit] = .exact(cellGradientBefore[row * h + unit])
            }
            for column in 0..<4 * h {
                dGates[row * 4 * h + column] = .exact(0)
                dRecurrent[row * 4 * h + column] = .exact(0)
            }
            for column in 0..<18 * h { dSaved[savedRow + column] = .exact(0) }
            continue
        }
        let (aHat, aScale) = normalized(Array(a[row * 4 * h..<(row + 1) * 4 * h]))
        let (rHat, rScale) = normalized(Array(r[row * 4 * h..<(row + 1) * 4 * h]))
        let pre = (0..<4 * h).map { (k: Int) -> Double in
            let input = gainIH[k] * aHat[k] + biasIH[k]
            return input + gainHH[k] * rHat[k] + biasHH[k]
        }
        let i = (0..<h).map { sigmoid(pre[$0]) }, f = (0..<h).map { sigmoid(pre[h + $0]) }
        let g = (0..<h).map { Foundation.tanh(pre[2 * h + $0]) }, o = (0..<h).map { sigmoid(pre[3 * h + $0]) }
        let c = (0..<h).map { (k: Int) -> Double in f[k] * cPrevious[units.lowerBound + k] + i[k] * g[k] }
        let (cHat, cScale) = normalized(c)
        let tanhN = (0..<h).map { (k: Int) -> Double in Foundation.tanh(gainC[k] * cHat[k] + biasC[k]) }
        for unit in 0..<h {
            for (gate, value) in [i, f, g, o].enumerated() {
                gates[row * 4 * h + gate * h + unit] = .close(value[unit])
            }
            cell[row * h + unit] = .close(c[unit])
            hidden[row * h + unit] = .close(o[unit] * tanhN[unit])
            output[shape.outputIndex(row: row, unit: unit)] = .close(o[unit] * tanhN[unit])
            saved[savedRow + 16 * h + unit] = .close(cHat[unit])
        }
        for column in 0..<4 * h {
            saved[savedRow + 4 * h + column] = .close(aHat[column])
            saved[savedRow + 8 * h + column] = .close(rHat[column])
        }
        for (index, scale) in [aScale, rScale, cScale].enumerated() { saved[savedRow + 18 * h + index] = .close(scale) }

        // Backward from this forward pass.
        let dh = (0..<h).map { (k: Int) -> Double in
            Double(running[row * h + k]) + Double(outputGradient[shape.outputIndex(row: row, unit: k)])
        }
        let dn = (0..<h).map { (k: Int) -> Double in dh[k] * o[k] * (1 - tanhN[k] * tanhN[k]) }
        let fromNorm = normBackward((0..<h).map { dn[$0] * gainC[$0] }, cHat, scale: cScale)
        let dc = (0..<h).map { (k: Int) -> Double in fromNorm[k] + Double(cellGradientBefore[row * h + k]) }
        var dpre = [Double](repeating: 0, count: 4 * h)
        for unit in 0..<h {
            dpre[unit] = dc[unit] * g[unit] * i[unit] * (1 - i[unit])
            dpre[h + unit] = dc[unit] * cPrevious[units.lowerBound + unit] * f[unit] * (1 - f[unit])
            dpre[2 * h + unit] = dc[unit] * i[unit] * (1 - g[unit] * g[unit])
            dpre[3 * h + unit] = dh[unit] * tanhN[unit] * o[unit] * (1 - o[unit])
            dCell[row * h + unit] = .close(dc[unit] * f[unit])
            dPrevious[row * h + unit] = .exact(0)
            dSaved[savedRow + 16 * h + unit] = .close(dn[unit] * cHat[unit])
            dSaved[savedRow + 17 * h + unit] = .close(dn[unit])
        }
        let da = normBackward((0..<4 * h).map { dpre[$0] * gainIH[$0] }, aHat, scale: aScale)
        let dr = normBackward((0..<4 * h).map { dpre[$0] * gainHH[$0] }, rHat, scale: rScale)
        for column in 0..<4 * h {
            dGates[row * 4 * h + column] = .close(da[column])
            dRecurrent[row * 4 * h + column] = .close(dr[column])
            dSaved[savedRow + column] = .close(dr[column])
            dSaved[savedRow + 4 * h + column] = .close(dpre[column] * aHat[column])
            dSaved[savedRow + 8 * h + column] = .close(dpre[column] * rHat[column])
            dSaved[savedRow + 12 * h + column] = .close(dpre[column])
        }
    }

    // Whole rows in two blocks give the bits of the whole step.
    let split = LayerNormStep(shape)
    shape.withLengths { lengths in
        step.run(forward: true, lengths: lengths)
        for rows in [0..<rows / 2, rows / 2..<rows] { split.run(forward: true, rows: rows, lengths: lengths) }
    }
    expectBuffer(step.buffers.gates, gates, "gates", absolute: floor)
    expectBuffer(step.cell, cell, "cell", absolute: floor)
    expectBuffer(step.buffers.hidden, hidden, "hidden", absolute: floor)
    expectBuffer(step.buffers.output, output, "output", absolute: floor)
    expectBuffer(step.saved, saved, "saved", absolute: floor)
    shape.withLengths { lengths in
        step.run(forward: false, lengths: lengths)
        for rows in [rows / 2..<rows, 0..<rows / 2] { split.run(forward: false, rows: rows, lengths: lengths) }
    }
    expectBuffer(step.buffers.gates, dGates, "input-side gradient", absolute: floor)
    expectBuffer(step.recurrent, dRecurrent, "recurrent-side gradient", absolute: floor)
    expectBuffer(step.saved, dSaved, "saved sums", absolute: floor)
    expectBuffer(step.previousGradient, dPrevious, "previous hidden gradient", absolute: floor)
    expectBuffer(step.cellGradient, dCell, "cell gradient", absolute: floor)
    for (buffer, other) in zip(step.all, split.all) {
        #expect(buffer.guardsIntact)
        #expect(
            buffer.values.map(\.bitPattern) == other.values.map(\.bitPattern), "row blocks differ from the whole step")
    }
}
