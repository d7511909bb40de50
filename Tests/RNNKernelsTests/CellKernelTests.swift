import Foundation
import Testing
@testable import RNNKernels

// Each post-GEMM cell kernel against a scalar double-precision reference, on
// seeded random data, for odd and vector-width hidden sizes, with and without
// a length mask, with contiguous and bidirectional-style strided outputs, in
// every instruction-set variant this machine runs; and at every hidden size
// the generator specialized kernels for, both the specialized and the
// generic kernels.
// Every buffer sits between sentinel guards (and the other direction's half
// of each strided output row holds sentinels too), so a kernel that strays
// outside its rows fails here. Tolerances: see `isClose`.

// MARK: - Shapes

/// One timestep's shape: `rows` batch rows of `hiddenSize` units at sequence
/// position `time`, optionally under a length mask, optionally writing a
/// `[rows, 2H]` output at column offset H as the reverse direction of a
/// bidirectional layer does.
struct CellShape: Sendable, CustomTestStringConvertible {
    var hiddenSize: Int
    var rows: Int
    var masked: Bool
    var strided: Bool
    /// The kernels under test.
    var kernels: KernelSelection

    /// Odd sizes, exact vector widths (4, 8, 16) and a long row with a tail
    /// (100), in every variant; then every generated size, masked and
    /// strided, through the specialized and the generic kernels.
    static let all: [CellShape] = KernelSelection.runnableInstructionSets.flatMap { instructionSet in
        [1, 3, 4, 8, 16, 17, 100].flatMap { hiddenSize in
            [1, 7].flatMap { rows in
                [false, true].flatMap { masked in
                    [false, true].map { strided in
                        CellShape(
                            hiddenSize: hiddenSize, rows: rows, masked: masked, strided: strided,
                            kernels: KernelSelection(instructionSet: instructionSet))
                    }
                }
            }
        }
            + KernelSelection.specializedHiddenSizes.flatMap { hiddenSize in
                [true, false].map { specialized in
                    CellShape(
                        hiddenSize: hiddenSize, rows: 7, masked: true, strided: true,
                        kernels: KernelSelection(instructionSet: instructionSet, usesSpecializedKernels: specialized))
                }
            }
    }

    /// A few shapes for the finite-difference checks, which cost more per unit
    /// (the output stride has no part in the math they check).
    static let gradientCheck: [CellShape] =
        all.filter { [3, 17].contains($0.hiddenSize) && $0.rows == 7 && !$0.strided }
        + all.filter { $0.hiddenSize == 32 }

    /// The sequence position of the step under test.
    let time = 3

    /// Under the mask every third row is padded at `time`: row 3 ended long
    /// ago, rows 0 and 6 have exactly `time` steps. The others are active,
    /// some at their last valid step (`time + 1`).
    var lengths: [Int32]? {
        guard masked else { return nil }
        return (0..<rows).map { row in
            row % 3 != 0 ? Int32(time + row % 3) : row == 3 ? 1 : Int32(time)
        }
    }

    func isActive(_ row: Int) -> Bool {
        guard let lengths else { return true }
        return time < Int(lengths[row])
    }

    var outputStride: Int { strided ? 2 * hiddenSize : hiddenSize }
    var outputOffset: Int { strided ? hiddenSize : 0 }
    /// Where unit `unit` of `row` lands in the whole `[rows, outputStride]` output.
    func outputIndex(row: Int, unit: Int) -> Int { row * outputStride + outputOffset + unit }

    var seed: UInt64 { UInt64(hiddenSize << 8 | rows << 2 | (masked ? 2 : 0) | (strided ? 1 : 0)) }

    var testDescription: String {
        "H=\(hiddenSize) B=\(rows)" + (masked ? " masked" : "") + (strided ? " strided" : "") + " \(kernels)"
    }

    /// Runs `body` on this shape's kernels, with its length mask.
    func withLengths<Result>(_ body: (UnsafePointer<Int32>?) -> Result) -> Result {
        KernelSelection.with(kernels) {
            guard let lengths else { return body(nil) }
            return lengths.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
    }
}

// MARK: - Buffers

/// The `CellStep` buffers of one timestep, guarded.
final class StepBuffers {
    let shape: CellShape
    let gates: GuardedBuffer
    let previousHidden: GuardedBuffer
    let hidden: GuardedBuffer
    /// The whole `[rows, outputStride]` layer output; the kernel sees it from `outputOffset`.
    let output: GuardedBuffer

    init(_ shape: CellShape, gates: [Float], previousHidden: [Float]) {
        self.shape = shape
        self.gates = GuardedBuffer(gates)
        self.previousHidden = GuardedBuffer(previousHidden)
        hidden = GuardedBuffer(count: shape.rows * shape.hiddenSize)
        output = GuardedBuffer(count: shape.rows * shape.outputStride)
    }

    func step(_ lengths: UnsafePointer<Int32>?) -> CellStep {
        CellStep(
            rows: shape.rows, hiddenSize: shape.hiddenSize, time: shape.time, lengths: lengths,
            gates: gates.pointer, previousHidden: previousHidden.pointer, hidden: hidden.pointer,
            output: output.pointer + shape.outputOffset, outputStride: shape.outputStride)
    }

    /// Expectations that leave every buffer as it is now.
    func expectations() -> StepExpectations {
        StepExpectations(
            shape: shape, gates: untouched(gates), previousHidden: untouched(previousHidden),
            hidden: untouched(hidden), output: untouched(output))
    }

    func check(_ expected: StepExpectations, sourceLocation: SourceLocation = #_sourceLocation) {
        expectBuffer(gates, expected.gates, "gates", sourceLocation: sourceLocation)
        expectBuffer(previousHidden, expected.previousHidden, "previous hidden", sourceLocation: sourceLocation)
        expectBuffer(hidden, expected.hidden, "hidden", sourceLocation: sourceLocation)
        expectBuffer(output, expected.output, "output", sourceLocation: sourceLocation)
    }
}

struct StepExpectations {
    let shape: CellShape
    var gates: [Expected]
    var previousHidden: [Expected]
    var hidden: [Expected]
    var output: [Expected]

    /// The new hidden state of an active row, also its output.
    mutating func setHidden(row: Int, unit: Int, _ value: Double) {
        hidden[row * shape.hiddenSize + unit] = .close(value)
        output[shape.outputIndex(row: row, unit: unit)] = .close(value)
    }

    /// The padded-row rule: the state carries over, the output is zero, and
    /// what the gate buffer then holds is nobody's business (backward zeroes it).
    mutating func carryOver(row: Int, gateCount: Int, previousHidden: GuardedBuffer) {
        let size = shape.hiddenSize
        for unit in 0..<size {
            hidden[row * size + unit] = .exact(previousHidden[row * size + unit])
            output[shape.outputIndex(row: row, unit: unit)] = .exact(0)
        }
        for index in row * gateCount * size..<(row + 1) * gateCount * size { gates[index] = .any }
    }
}

/// The `CellGradientStep` buffers of one timestep, guarded.
final class GradientBuffers {
    let shape: CellShape
    /// The gradient reaching the hidden state from the next step, `[rows, H]`.
    let running: GuardedBuffer
    /// The loss gradient on the whole `[rows, outputStride]` output: this
    /// direction's half random, the other half sentinels.
    let output: GuardedBuffer
    /// Written by the kernel, `[rows, H]`.
    let previousHidden: GuardedBuffer

    /// - Parameter zeroPaddedOutput: whether padded rows get a zero output
    ///   gradient, as the driver guarantees (the loss is zero at padded
    ///   positions, and so is an upper layer's input gradient there).
    init(_ shape: CellShape, random: inout TestRandom, zeroPaddedOutput: Bool = true) {
        self.shape = shape
        let size = shape.hiddenSize
        running = GuardedBuffer(random.floats(shape.rows * size, -1, 1))
        output = GuardedBuffer(count: shape.rows * shape.outputStride)
        for row in 0..<shape.rows {
            for unit in 0..<size {
                let value = random.uniform(-1, 1)
                output[shape.outputIndex(row: row, unit: unit)] = shape.isActive(row) || !zeroPaddedOutput ? value : 0
            }
        }
        previousHidden = GuardedBuffer(count: shape.rows * size)
    }

    func step(withOutput: Bool) -> CellGradientStep {
        CellGradientStep(
            hidden: running.pointer, output: withOutput ? output.pointer + shape.outputOffset : nil,
            outputStride: shape.outputStride, previousHidden: previousHidden.pointer)
    }

    /// The total gradient on the hidden state: from the next step plus, when given, from the output.
    func total(row: Int, unit: Int, withOutput: Bool) -> Double {
        let fromNext = Double(running[row * shape.hiddenSize + unit])
        return withOutput ? fromNext + Double(output[shape.outputIndex(row: row, unit: unit)]) : fromNext
    }

    /// What a padded row passes to the previous step: the state gradient, untouched.
    func passThrough(row: Int, unit: Int) -> Expected { .exact(running[row * shape.hiddenSize + unit]) }

    func checkInputs(
        _ runningBefore: [Expected], _ outputBefore: [Expected],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectBuffer(running, runningBefore, "hidden gradient", sourceLocation: sourceLocation)
        expectBuffer(output, outputBefore, "output gradient", sourceLocation: sourceLocation)
    }
}

// MARK: - Reference

private func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

/// One row of each cell in double precision, straight from the definitions
/// (PyTorch's gate orders: LSTM i, f, g, o; GRU r, z, n).
enum CellReference {
    static func rnn(_ preActivation: Double, relu: Bool) -> Double {
        relu ? max(0, preActivation) : tanh(preActivation)
    }

    struct LSTMRow { var i, f, g, o, c, h: [Double] }

    /// - Parameter preActivations: `[4H]`, gate by gate.
    static func lstm(preActivations p: [Double], previousCell: [Double]) -> LSTMRow {
        let size = previousCell.count
        let i = (0..<size).map { sigmoid(p[$0]) }
        let f = (0..<size).map { sigmoid(p[size + $0]) }
        let g = (0..<size).map { tanh(p[2 * size + $0]) }
        let o = (0..<size).map { sigmoid(p[3 * size + $0]) }
        let c = (0..<size).map { f[$0] * previousCell[$0] + i[$0] * g[$0] }
        let h = (0..<size).map { o[$0] * tanh(c[$0]) }
        return LSTMRow(i: i, f: f, g: g, o: o, c: c, h: h)
    }

    struct GRURow { var r, z, n, candidate, h: [Double] }

    /// - Parameters:
    ///   - input: `W_ih x + b_ih`, `[3H]`.
    ///   - recurrent: `W_hh h'`, `[3H]`; `bias`: `b_hh`, `[3H]`.
    static func gru(input x: [Double], recurrent: [Double], bias: [Double], previousHidden: [Double]) -> GRURow {
        let size = previousHidden.count
        let r = (0..<size).map { sigmoid(x[$0] + recurrent[$0] + bias[$0]) }
        let z = (0..<size).map { sigmoid(x[size + $0] + recurrent[size + $0] + bias[size + $0]) }
        let candidate = (0..<size).map { recurrent[2 * size + $0] + bias[2 * size + $0] }
        let n = (0..<size).map { tanh(x[2 * size + $0] + r[$0] * candidate[$0]) }
        let h = (0..<size).map { (1 - z[$0]) * n[$0] + z[$0] * previousHidden[$0] }
        return GRURow(r: r, z: z, n: n, candidate: candidate, h: h)
    }
}

/// Row `row` of a `[rows, width]` float matrix, in double precision.
private func doubles(_ buffer: GuardedBuffer, row: Int, width: Int) -> [Double] {
    (0..<width).map { Double(buffer[row * width + $0]) }
}

// MARK: - Vanilla RNN

@Test("Vanilla RNN forward matches the reference", arguments: CellShape.all, [false, true])
func vanillaForward(shape: CellShape, relu: Bool) {
    var random = TestRandom(seed: shape.seed)
    let size = shape.hiddenSize
    var preActivations = random.floats(shape.rows * size, -3, 3)
    if relu { preActivations[0] = 0 }  // ReLU's kink maps to 0
    let buffers = StepBuffers(shape, gates: preActivations, previousHidden: random.floats(shape.rows * size, -1, 1))
    var expected = buffers.expectations()
    for row in 0..<shape.rows {
        guard shape.isActive(row) else {
            expected.carryOver(row: row, gateCount: 1, previousHidden: buffers.previousHidden)
            continue
        }
        for unit in 0..<size {
            let h = CellReference.rnn(Double(preActivations[row * size + unit]), relu: relu)
            expected.gates[row * size + unit] = .close(h)
            expected.setHidden(row: row, unit: unit, h)
        }
    }
    shape.withLengths { VanillaRNNKernel.forward(buffers.step($0), relu: relu) }
    buffers.check(expected)
}

@Test("Vanilla RNN backward matches the reference", arguments: CellShape.all, [false, true])
func vanillaBackward(shape: CellShape, relu: Bool) {
    for withOutput in [false, true] {
        var random = TestRandom(seed: shape.seed)
        let size = shape.hiddenSize
        // The gate buffer holds h after forward; ReLU's h has exact zeros.
        var h = random.floats(shape.rows * size, -3, 3).map { relu ? max(0, $0) : Float(tanh(Double($0))) }
        if relu { h[0] = 0 }
        let buffers = StepBuffers(shape, gates: h, previousHidden: random.floats(shape.rows * size, -1, 1))
        let gradient = GradientBuffers(shape, random: &random)
        var expected = buffers.expectations()
        var expectedPrevious = untouched(gradient.previousHidden)
        let runningBefore = untouched(gradient.running), outputBefore = untouched(gradient.output)
        for row in 0..<shape.rows {
            for unit in 0..<size {
                let index = row * size + unit
                guard shape.isActive(row) else {
                    expected.gates[index] = .exact(0)
                    expectedPrevious[index] = gradient.passThrough(row: row, unit: unit)
                    continue
                }
                let dh = gradient.total(row: row, unit: unit, withOutput: withOutput)
                let value = Double(h[index])
                let derivative = relu ? (value > 0 ? 1 : 0) : 1 - value * value
                expected.gates[index] = .close(dh * derivative)
                // All of h' reaches this step through the recurrent GEMM.
                expectedPrevious[index] = .exact(0)
            }
        }
        shape.withLengths {
            VanillaRNNKernel.backward(buffers.step($0), gradient.step(withOutput: withOutput), relu: relu)
        }
        buffers.check(expected)
        expectBuffer(gradient.previousHidden, expectedPrevious, "previous hidden gradient (output: \(withOutput))")
        gradient.checkInputs(runningBefore, outputBefore)
    }
}

// MARK: - LSTM

@Test("LSTM forward matches the reference", arguments: CellShape.all)
func lstmForward(shape: CellShape) {
    var random = TestRandom(seed: shape.seed)
    let size = shape.hiddenSize, rows = shape.rows
    let buffers = StepBuffers(
        shape, gates: random.floats(rows * 4 * size, -4, 4),
        previousHidden: random.floats(rows * size, -1, 1))
    let previousCell = GuardedBuffer(random.floats(rows * size, -2, 2))
    let cell = GuardedBuffer(count: rows * size)
    var expected = buffers.expectations()
    var expectedCell = untouched(cell)
    let previousCellBefore = untouched(previousCell)
    for row in 0..<rows {
        guard shape.isActive(row) else {
            expected.carryOver(row: row, gateCount: 4, previousHidden: buffers.previousHidden)
            for unit in 0..<size { expectedCell[row * size + unit] = .exact(previousCell[row * size + unit]) }
            continue
        }
        let reference = CellReference.lstm(
            preActivations: doubles(buffers.gates, row: row, width: 4 * size),
            previousCell: doubles(previousCell, row: row, width: size))
        for unit in 0..<size {
            let gates = row * 4 * size + unit
            expected.gates[gates] = .close(reference.i[unit])
            expected.gates[gates + size] = .close(reference.f[unit])
            expected.gates[gates + 2 * size] = .close(reference.g[unit])
            expected.gates[gates + 3 * size] = .close(reference.o[unit])
            expectedCell[row * size + unit] = .close(reference.c[unit])
            expected.setHidden(row: row, unit: unit, reference.h[unit])
        }
    }
    shape.withLengths { LSTMKernel.forward(buffers.step($0), previousCell: previousCell.pointer, cell: cell.pointer) }
    buffers.check(expected)
    expectBuffer(cell, expectedCell, "cell")
    expectBuffer(previousCell, previousCellBefore, "previous cell")
}

@Test("LSTM backward matches the reference", arguments: CellShape.all)
func lstmBackward(shape: CellShape) {
    for withOutput in [false, true] {
        var random = TestRandom(seed: shape.seed)
        let size = shape.hiddenSize, rows = shape.rows
        // Activated gates as forward leaves them: i, f, o in (0, 1), g in (-1, 1).
        let gates = (0..<rows * 4 * size).map { index in
            let x = Double(random.uniform(-4, 4))
            return Float(index / size % 4 == 2 ? tanh(x) : sigmoid(x))
        }
        let buffers = StepBuffers(shape, gates: gates, previousHidden: random.floats(rows * size, -1, 1))
        let previousCell = GuardedBuffer(random.floats(rows * size, -3, 3))
        let cell = GuardedBuffer(random.floats(rows * size, -3, 3))
        let cellGradient = GuardedBuffer(random.floats(rows * size, -1, 1))
        let gradient = GradientBuffers(shape, random: &random)
        var expected = buffers.expectations()
        var expectedPrevious = untouched(gradient.previousHidden)
        var expectedCellGradient = untouched(cellGradient)
        let cellsBefore = (untouched(previousCell), untouched(cell))
        let runningBefore = untouched(gradient.running), outputBefore = untouched(gradient.output)
        for row in 0..<rows {
            for unit in 0..<size {
                let index = row * size + unit, gate = row * 4 * size + unit
                guard shape.isActive(row) else {
                    for offset in stride(from: 0, to: 4 * size, by: size) { expected.gates[gate + offset] = .exact(0) }
                    expectedPrevious[index] = gradient.passThrough(row: row, unit: unit)
                    // The cell state carried over, so does its gradient.
                    continue
                }
                let i = Double(gates[gate]), f = Double(gates[gate + size])
                let g = Double(gates[gate + 2 * size]), o = Double(gates[gate + 3 * size])
                let tanhC = tanh(Double(cell[index]))
                let dh = gradient.total(row: row, unit: unit, withOutput: withOutput)
                let dc = dh * o * (1 - tanhC * tanhC) + Double(cellGradient[index])
                expected.gates[gate] = .close(dc * g * i * (1 - i))
                expected.gates[gate + size] = .close(dc * Double(previousCell[index]) * f * (1 - f))
                expected.gates[gate + 2 * size] = .close(dc * i * (1 - g * g))
                expected.gates[gate + 3 * size] = .close(dh * tanhC * o * (1 - o))
                expectedCellGradient[index] = .close(dc * f)
                expectedPrevious[index] = .exact(0)
            }
        }
        shape.withLengths {
            LSTMKernel.backward(
                buffers.step($0), gradient.step(withOutput: withOutput), previousCell: previousCell.pointer,
                cell: cell.pointer, cellGradient: cellGradient.pointer)
        }
        buffers.check(expected)
        expectBuffer(gradient.previousHidden, expectedPrevious, "previous hidden gradient (output: \(withOutput))")
        expectBuffer(cellGradient, expectedCellGradient, "cell gradient (output: \(withOutput))")
        expectBuffer(previousCell, cellsBefore.0, "previous cell")
        expectBuffer(cell, cellsBefore.1, "cell")
        gradient.checkInputs(runningBefore, outputBefore)
    }
}

// MARK: - GRU

/// GRU inputs besides the `CellStep`: `W_hh h'` per row and `b_hh`.
private struct GRUInputs {
    let recurrent: GuardedBuffer
    let recurrentBias: GuardedBuffer
    let candidate: GuardedBuffer

    init(_ shape: CellShape, random: inout TestRandom) {
        recurrent = GuardedBuffer(random.floats(shape.rows * 3 * shape.hiddenSize, -2, 2))
        recurrentBias = GuardedBuffer(random.floats(3 * shape.hiddenSize, -1, 1))
        candidate = GuardedBuffer(count: shape.rows * shape.hiddenSize)
    }
}

@Test("GRU forward matches the reference", arguments: CellShape.all)
func gruForward(shape: CellShape) {
    var random = TestRandom(seed: shape.seed)
    let size = shape.hiddenSize, rows = shape.rows
    let buffers = StepBuffers(
        shape, gates: random.floats(rows * 3 * size, -3, 3),
        previousHidden: random.floats(rows * size, -1, 1))
    let inputs = GRUInputs(shape, random: &random)
    var expected = buffers.expectations()
    var expectedCandidate = untouched(inputs.candidate)
    let recurrentBefore = untouched(inputs.recurrent), biasBefore = untouched(inputs.recurrentBias)
    let bias = doubles(inputs.recurrentBias, row: 0, width: 3 * size)
    for row in 0..<rows {
        guard shape.isActive(row) else {
            expected.carryOver(row: row, gateCount: 3, previousHidden: buffers.previousHidden)
            for unit in 0..<size { expectedCandidate[row * size + unit] = .exact(0) }
            continue
        }
        let reference = CellReference.gru(
            input: doubles(buffers.gates, row: row, width: 3 * size),
            recurrent: doubles(inputs.recurrent, row: row, width: 3 * size),
            bias: bias, previousHidden: doubles(buffers.previousHidden, row: row, width: size))
        for unit in 0..<size {
            let gates = row * 3 * size + unit
            expected.gates[gates] = .close(reference.r[unit])
            expected.gates[gates + size] = .close(reference.z[unit])
            expected.gates[gates + 2 * size] = .close(reference.n[unit])
            expectedCandidate[row * size + unit] = .close(reference.candidate[unit])
            expected.setHidden(row: row, unit: unit, reference.h[unit])
        }
    }
    shape.withLengths {
        GRUKernel.forward(
            buffers.step($0), recurrent: inputs.recurrent.pointer, recurrentBias: inputs.recurrentBias.pointer,
            candidateRecurrent: inputs.candidate.pointer)
    }
    buffers.check(expected)
    expectBuffer(inputs.candidate, expectedCandidate, "candidate recurrent")
    expectBuffer(inputs.recurrent, recurrentBefore, "recurrent projection")
    expectBuffer(inputs.recurrentBias, biasBefore, "recurrent bias")
}

@Test("GRU backward matches the reference", arguments: CellShape.all)
func gruBackward(shape: CellShape) {
    for withOutput in [false, true] {
        var random = TestRandom(seed: shape.seed)
        let size = shape.hiddenSize, rows = shape.rows
        // Activated gates as forward leaves them: r, z in (0, 1), n in (-1, 1).
        let gates = (0..<rows * 3 * size).map { index in
            let x = Double(random.uniform(-4, 4))
            return Float(index / size % 3 == 2 ? tanh(x) : sigmoid(x))
        }
        let buffers = StepBuffers(shape, gates: gates, previousHidden: random.floats(rows * size, -1, 1))
        // `W_hn h' + b_hn` as forward kept it.
        let candidate = GuardedBuffer(random.floats(rows * size, -2, 2))
        let recurrentGradient = GuardedBuffer(count: rows * 3 * size)
        let gradient = GradientBuffers(shape, random: &random)
        var expected = buffers.expectations()
        var expectedPrevious = untouched(gradient.previousHidden)
        var expectedCandidate = untouched(candidate)
        var expectedRecurrent = untouched(recurrentGradient)
        let runningBefore = untouched(gradient.running), outputBefore = untouched(gradient.output)
        for row in 0..<rows {
            for unit in 0..<size {
                let index = row * size + unit, gate = row * 3 * size + unit
                guard shape.isActive(row) else {
                    for offset in stride(from: 0, to: 3 * size, by: size) {
                        expected.gates[gate + offset] = .exact(0)
                        expectedRecurrent[gate + offset] = .exact(0)
                    }
                    expectedCandidate[index] = .exact(0)
                    expectedPrevious[index] = gradient.passThrough(row: row, unit: unit)
                    continue
                }
                let r = Double(gates[gate]), z = Double(gates[gate + size]), n = Double(gates[gate + 2 * size])
                let hn = Double(candidate[index]), hPrevious = Double(buffers.previousHidden[index])
                let dh = gradient.total(row: row, unit: unit, withOutput: withOutput)
                let dn = dh * (1 - z) * (1 - n * n)
                let dz = dh * (hPrevious - n) * z * (1 - z)
                let dr = dn * hn * r * (1 - r)
                expected.gates[gate] = .close(dr)
                expected.gates[gate + size] = .close(dz)
                expected.gates[gate + 2 * size] = .close(dn)
                expectedRecurrent[gate] = .close(dr)
                expectedRecurrent[gate + size] = .close(dz)
                expectedRecurrent[gate + 2 * size] = .close(dn * r)
                expectedCandidate[index] = .close(dn * r)
                expectedPrevious[index] = .close(dh * z)
            }
        }
        shape.withLengths {
            GRUKernel.backward(
                buffers.step($0), gradient.step(withOutput: withOutput), candidateRecurrent: candidate.pointer,
                recurrentGradient: recurrentGradient.pointer)
        }
        buffers.check(expected)
        expectBuffer(gradient.previousHidden, expectedPrevious, "previous hidden gradient (output: \(withOutput))")
        expectBuffer(candidate, expectedCandidate, "candidate gradient (output: \(withOutput))")
        expectBuffer(recurrentGradient, expectedRecurrent, "recurrent gradient (output: \(withOutput))")
        gradient.checkInputs(runningBefore, outputBefore)
    }
}

// MARK: - Gradient checks

/// Central differences of `loss` at `point`, in double precision.
private func numericalGradient(at point: [Double], _ loss: ([Double]) -> Double) -> [Double] {
    let step = 1e-6
    return point.indices.map { index in
        var plus = point, minus = point
        plus[index] += step
        minus[index] -= step
        return (loss(plus) - loss(minus)) / (2 * step)
    }
}

/// Compares kernel gradients with numerical ones. The kernels work from float
/// activations, so a little looser than `isClose`.
private func expectGradient(
    _ actual: [Float], _ numerical: [Double], _ name: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let wrong = actual.indices.filter { !isClose(actual[$0], numerical[$0], relative: 1e-4, absolute: 1e-5) }
    #expect(
        wrong.isEmpty, "\(name): \(wrong.prefix(4).map { "[\($0)] \(actual[$0]) vs \(numerical[$0])" })",
        sourceLocation: sourceLocation)
}

/// Pieces of a float buffer, as the kernels see them.
private func floats(_ buffer: GuardedBuffer, _ range: Range<Int>) -> [Float] { range.map { buffer[$0] } }

// One step's loss is `Σ a·h + Σ d·output (+ Σ b·c)`, with `a` the incoming
// hidden gradient, `d` the output gradient (when given) and `b` the incoming
// cell gradient; a padded row has `h = h'`, `c = c'` and a zero output. The
// kernels' backward must give this loss's derivatives with respect to the
// pre-activations and, outside the recurrent GEMM, to `h'` and `c'`.

@Test("Vanilla RNN backward is the derivative of forward", arguments: CellShape.gradientCheck, [false, true])
func vanillaGradientCheck(shape: CellShape, relu: Bool) {
    for withOutput in [false, true] {
        var random = TestRandom(seed: shape.seed ^ 0x5EED)
        let size = shape.hiddenSize
        let buffers = StepBuffers(
            shape, gates: random.floats(shape.rows * size, -3, 3),
            previousHidden: random.floats(shape.rows * size, -1, 1))
        let preActivations = buffers.gates.values
        let gradient = GradientBuffers(shape, random: &random)
        shape.withLengths { lengths in
            VanillaRNNKernel.forward(buffers.step(lengths), relu: relu)
            VanillaRNNKernel.backward(buffers.step(lengths), gradient.step(withOutput: withOutput), relu: relu)
        }
        for row in 0..<shape.rows {
            let units = row * size..<(row + 1) * size
            let point =
                units.map { Double(preActivations[$0]) } + doubles(buffers.previousHidden, row: row, width: size)
            let numerical = numericalGradient(at: point) { x in
                (0..<size).reduce(0) { loss, unit in
                    guard shape.isActive(row) else {
                        return loss + Double(gradient.running[units.lowerBound + unit]) * x[size + unit]
                    }
                    let h = CellReference.rnn(x[unit], relu: relu)
                    return loss + gradient.total(row: row, unit: unit, withOutput: withOutput) * h
                }
            }
            expectGradient(floats(buffers.gates, units), Array(numerical[..<size]), "dPre row \(row)")
            expectGradient(floats(gradient.previousHidden, units), Array(numerical[size...]), "dh' row \(row)")
        }
    }
}

@Test("LSTM backward is the derivative of forward", arguments: CellShape.gradientCheck)
func lstmGradientCheck(shape: CellShape) {
    for withOutput in [false, true] {
        var random = TestRandom(seed: shape.seed ^ 0x5EED)
        let size = shape.hiddenSize, rows = shape.rows
        let buffers = StepBuffers(
            shape, gates: random.floats(rows * 4 * size, -3, 3),
            previousHidden: random.floats(rows * size, -1, 1))
        let preActivations = buffers.gates.values
        let previousCell = GuardedBuffer(random.floats(rows * size, -2, 2))
        let cell = GuardedBuffer(count: rows * size)
        let cellGradient = GuardedBuffer(random.floats(rows * size, -1, 1))
        let incomingCellGradient = cellGradient.values
        let gradient = GradientBuffers(shape, random: &random)
        shape.withLengths { lengths in
            LSTMKernel.forward(buffers.step(lengths), previousCell: previousCell.pointer, cell: cell.pointer)
            LSTMKernel.backward(
                buffers.step(lengths), gradient.step(withOutput: withOutput), previousCell: previousCell.pointer,
                cell: cell.pointer, cellGradient: cellGradient.pointer)
        }
        for row in 0..<rows {
            let units = row * size..<(row + 1) * size, gates = row * 4 * size..<(row + 1) * 4 * size
            // Pre-activations, then h', then c'.
            let point =
                gates.map { Double(preActivations[$0]) } + doubles(buffers.previousHidden, row: row, width: size)
                + doubles(previousCell, row: row, width: size)
            let numerical = numericalGradient(at: point) { x in
                let hPrevious = Array(x[4 * size..<5 * size]), cPrevious = Array(x[(5 * size)...])
                let step =
                    shape.isActive(row)
                    ? CellReference.lstm(preActivations: Array(x[..<(4 * size)]), previousCell: cPrevious)
                    : nil
                return (0..<size).reduce(0) { loss, unit in
                    let b = Double(incomingCellGradient[units.lowerBound + unit])
                    guard let step else {
                        return loss + Double(gradient.running[units.lowerBound + unit]) * hPrevious[unit] + b
                            * cPrevious[unit]
                    }
                    return loss + gradient.total(row: row, unit: unit, withOutput: withOutput) * step.h[unit] + b
                        * step.c[unit]
                }
            }
            expectGradient(floats(buffers.gates, gates), Array(numerical[..<(4 * size)]), "dPre row \(row)")
            expectGradient(
                floats(gradient.previousHidden, units), Array(numerical[4 * size..<5 * size]), "dh' row \(row)")
            expectGradient(floats(cellGradient, units), Array(numerical[(5 * size)...]), "dc' row \(row)")
        }
    }
}

@Test("GRU backward is the derivative of forward", arguments: CellShape.gradientCheck)
func gruGradientCheck(shape: CellShape) {
    for withOutput in [false, true] {
        var random = TestRandom(seed: shape.seed ^ 0x5EED)
        let size = shape.hiddenSize, rows = shape.rows
        let buffers = StepBuffers(
            shape, gates: random.floats(rows * 3 * size, -3, 3),
            previousHidden: random.floats(rows * size, -1, 1))
        let inputProjection = buffers.gates.values
        let inputs = GRUInputs(shape, random: &random)
        let recurrentGradient = GuardedBuffer(count: rows * 3 * size)
        let gradient = GradientBuffers(shape, random: &random)
        let bias = doubles(inputs.recurrentBias, row: 0, width: 3 * size)
        shape.withLengths { lengths in
            GRUKernel.forward(
                buffers.step(lengths), recurrent: inputs.recurrent.pointer,
                recurrentBias: inputs.recurrentBias.pointer, candidateRecurrent: inputs.candidate.pointer)
            GRUKernel.backward(
                buffers.step(lengths), gradient.step(withOutput: withOutput),
                candidateRecurrent: inputs.candidate.pointer, recurrentGradient: recurrentGradient.pointer)
        }
        for row in 0..<rows {
            let units = row * size..<(row + 1) * size, gates = row * 3 * size..<(row + 1) * 3 * size
            // Input projection, recurrent projection, then h' (held apart from W_hh h').
            let point =
                gates.map { Double(inputProjection[$0]) } + doubles(inputs.recurrent, row: row, width: 3 * size)
                + doubles(buffers.previousHidden, row: row, width: size)
            let numerical = numericalGradient(at: point) { x in
                let hPrevious = Array(x[(6 * size)...])
                let step =
                    shape.isActive(row)
                    ? CellReference.gru(
                        input: Array(x[..<(3 * size)]), recurrent: Array(x[3 * size..<6 * size]),
                        bias: bias, previousHidden: hPrevious)
                    : nil
                return (0..<size).reduce(0) { loss, unit in
                    guard let step else {
                        return loss + Double(gradient.running[units.lowerBound + unit]) * hPrevious[unit]
                    }
                    return loss + gradient.total(row: row, unit: unit, withOutput: withOutput) * step.h[unit]
                }
            }
            expectGradient(floats(buffers.gates, gates), Array(numerical[..<(3 * size)]), "dx row \(row)")
            expectGradient(
                floats(recurrentGradient, gates), Array(numerical[3 * size..<6 * size]), "dW_hh h' row \(row)")
            expectGradient(
                floats(inputs.candidate, units), Array(numerical[5 * size..<6 * size]), "d(W_hn h' + b_hn) row \(row)")
            expectGradient(floats(gradient.previousHidden, units), Array(numerical[(6 * size)...]), "dh' row \(row)")
        }
    }
}

// MARK: - Padded steps and the output gradient

enum CellKernelKind: String, Sendable, CaseIterable { case rnnTanh, lstm, gru }

/// A padded step's output is the constant zero, so whatever gradient the
/// output receives there must not reach the state: backward passes the state
/// gradient from the next step through untouched. The driver happens to zero
/// the loss gradient at padded positions, which hides a kernel that adds it in;
/// this test gives the padded row a non-zero output gradient on purpose.
@Test("A padded step passes only the state gradient to the previous step", arguments: CellKernelKind.allCases)
func paddedStepIgnoresOutputGradient(kind: CellKernelKind) {
    let shape = CellShape(
        hiddenSize: 5, rows: 3, masked: true, strided: true,  // rows 0 padded, 1 and 2 active
        kernels: KernelSelection.current)
    var random = TestRandom(seed: 0xDEAD)
    let size = shape.hiddenSize, rows = shape.rows
    let gateCount = kind == .lstm ? 4 : kind == .gru ? 3 : 1
    let buffers = StepBuffers(
        shape, gates: random.floats(rows * gateCount * size, -1, 1),
        previousHidden: random.floats(rows * size, -1, 1))
    let gradient = GradientBuffers(shape, random: &random, zeroPaddedOutput: false)
    let state = GuardedBuffer(random.floats(rows * size, -1, 1))  // cells, or the GRU candidate
    let cellGradient = GuardedBuffer(random.floats(rows * size, -1, 1))
    let recurrentGradient = GuardedBuffer(count: rows * 3 * size)
    shape.withLengths { lengths in
        let step = buffers.step(lengths), gradientStep = gradient.step(withOutput: true)
        switch kind {
        case .rnnTanh: VanillaRNNKernel.backward(step, gradientStep, relu: false)
        case .lstm:
            LSTMKernel.backward(
                step, gradientStep, previousCell: state.pointer, cell: state.pointer,
                cellGradient: cellGradient.pointer)
        case .gru:
            GRUKernel.backward(
                step, gradientStep, candidateRecurrent: state.pointer,
                recurrentGradient: recurrentGradient.pointer)
        }
    }
    #expect(!shape.isActive(0))
    let expected = (0..<size).map { gradient.running[$0] }
    let actual = (0..<size).map { gradient.previousHidden[$0] }
    #expect(
        actual == expected, "\(kind): padded row's dh' = \(actual), expected the incoming state gradient \(expected)")
}

/// An inference step (`keepsForBackward` false) skips what only backward
/// reads: it writes the training step's state and output bits, and leaves
/// the gates (and a GRU's kept candidate, on active rows) as they were.
@Test(
    "An inference step writes the training step's state and keeps nothing for backward",
    arguments: CellShape.gradientCheck, CellKernelKind.allCases)
func inferenceStepKeepsNothingForBackward(shape: CellShape, kind: CellKernelKind) {
    let size = shape.hiddenSize, rows = shape.rows
    let gateCount = kind == .lstm ? 4 : kind == .gru ? 3 : 1
    var random = TestRandom(seed: shape.seed)
    let gates = random.floats(rows * gateCount * size, -3, 3), previous = random.floats(rows * size, -1, 1)
    let previousCell = GuardedBuffer(random.floats(rows * size, -1, 1))
    let recurrent = GuardedBuffer(random.floats(rows * 3 * size, -2, 2))
    let recurrentBias = GuardedBuffer(random.floats(3 * size, -1, 1))
    /// One forward step on fresh buffers: the buffers, the cell state and the GRU's candidate.
    func run(keepsForBackward: Bool) -> (StepBuffers, GuardedBuffer, GuardedBuffer) {
        let buffers = StepBuffers(shape, gates: gates, previousHidden: previous)
        let cell = GuardedBuffer(count: rows * size), candidate = GuardedBuffer(count: rows * size)
        shape.withLengths { lengths in
            var step = buffers.step(lengths)
            step.keepsForBackward = keepsForBackward
            switch kind {
            case .rnnTanh: VanillaRNNKernel.forward(step, relu: false)
            case .lstm: LSTMKernel.forward(step, previousCell: previousCell.pointer, cell: cell.pointer)
            case .gru:
                GRUKernel.forward(
                    step, recurrent: recurrent.pointer, recurrentBias: recurrentBias.pointer,
                    candidateRecurrent: candidate.pointer)
            }
        }
        return (buffers, cell, candidate)
    }
    let (training, trainingCell, _) = run(keepsForBackward: true)
    let (inference, inferenceCell, candidate) = run(keepsForBackward: false)
    func bits(_ buffer: GuardedBuffer) -> [UInt32] { (0..<buffer.count).map { buffer[$0].bitPattern } }
    #expect(bits(inference.hidden) == bits(training.hidden), "\(kind) \(shape): hidden state")
    #expect(bits(inference.output) == bits(training.output), "\(kind) \(shape): output")
    #expect(bits(inferenceCell) == bits(trainingCell), "\(kind) \(shape): cell state")
    let changedGates = (0..<gates.count).filter { inference.gates[$0].bitPattern != gates[$0].bitPattern }
    #expect(changedGates.isEmpty, "\(kind) \(shape): gates written at \(changedGates.prefix(5))")
    let keptCandidates = (0..<rows * size).filter {
        shape.isActive($0 / size) && candidate[$0].bitPattern != GuardedBuffer.sentinel.bitPattern
    }
    #expect(keptCandidates.isEmpty, "\(kind) \(shape): candidate written at \(keptCandidates.prefix(5))")
}
