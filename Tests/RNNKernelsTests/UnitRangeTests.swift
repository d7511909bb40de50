import Testing
@testable import RNNKernels

// A team of threads splits a step by ranges of hidden units: each range's
// kernels must write exactly what the whole step writes there, bit for bit,
// and nothing outside the range.

/// Every buffer one forward and one backward step of any cell touch.
private struct StepState: Equatable {
    var gates, previousHidden, hidden, output, cell, previousCell, cellGradient: [Float]
    var recurrent, recurrentBias, candidate, recurrentGradient: [Float]
    var runningGradient, outputGradient, previousHiddenGradient: [Float]

    init(rows: Int, hiddenSize size: Int, random: inout TestRandom) {
        gates = random.floats(rows * 4 * size, -2, 2)
        previousHidden = random.floats(rows * size, -1, 1)
        hidden = [Float](repeating: 0, count: rows * size)
        output = [Float](repeating: 0, count: rows * size)
        cell = [Float](repeating: 0, count: rows * size)
        previousCell = random.floats(rows * size, -1, 1)
        cellGradient = random.floats(rows * size, -1, 1)
        recurrent = random.floats(rows * 3 * size, -1, 1)
        recurrentBias = random.floats(3 * size, -1, 1)
        candidate = [Float](repeating: 0, count: rows * size)
        recurrentGradient = [Float](repeating: 0, count: rows * 3 * size)
        runningGradient = random.floats(rows * size, -1, 1)
        outputGradient = random.floats(rows * size, -1, 1)
        previousHiddenGradient = [Float](repeating: 0, count: rows * size)
    }

    /// Runs `kind`'s forward over each range of `unitRanges` in turn, then its backward.
    mutating func run(_ kind: CellKernelKind, rows: Int, hiddenSize size: Int, lengths: [Int32],
                      unitRanges: [Range<Int>]) {
        for forward in [true, false] {
            for units in unitRanges {
                lengths.withUnsafeBufferPointer { lengths in
                    withPointers(rows: rows, hiddenSize: size, lengths: lengths.baseAddress!, units: units) { step, gradient, p in
                        switch (kind, forward) {
                        case (.rnnTanh, true): VanillaRNNKernel.forward(step, relu: false)
                        case (.rnnTanh, false): VanillaRNNKernel.backward(step, gradient, relu: false)
                        case (.lstm, true): LSTMKernel.forward(step, previousCell: p.previousCell, cell: p.cell)
                        case (.lstm, false):
                            LSTMKernel.backward(step, gradient, previousCell: p.previousCell, cell: p.cell,
                                                cellGradient: p.cellGradient)
                        case (.gru, true):
                            GRUKernel.forward(step, recurrent: p.recurrent, recurrentBias: p.recurrentBias,
                                              candidateRecurrent: p.candidate)
                        case (.gru, false):
                            GRUKernel.backward(step, gradient, candidateRecurrent: p.candidate,
                                               recurrentGradient: p.recurrentGradient)
                        }
                    }
                }
            }
        }
    }

    struct Pointers {
        var previousCell: UnsafeMutablePointer<Float>, cell: UnsafeMutablePointer<Float>
        var cellGradient: UnsafeMutablePointer<Float>, recurrent: UnsafeMutablePointer<Float>
        var recurrentBias: UnsafeMutablePointer<Float>, candidate: UnsafeMutablePointer<Float>
        var recurrentGradient: UnsafeMutablePointer<Float>
    }

    private mutating func withPointers(rows: Int, hiddenSize: Int, lengths: UnsafePointer<Int32>, units: Range<Int>,
                                       _ body: (CellStep, CellGradientStep, Pointers) -> Void) {
        gates.withUnsafeMutableBufferPointer { gates in
        previousHidden.withUnsafeMutableBufferPointer { previousHidden in
        hidden.withUnsafeMutableBufferPointer { hidden in
        output.withUnsafeMutableBufferPointer { output in
        cell.withUnsafeMutableBufferPointer { cell in
        previousCell.withUnsafeMutableBufferPointer { previousCell in
        cellGradient.withUnsafeMutableBufferPointer { cellGradient in
        recurrent.withUnsafeMutableBufferPointer { recurrent in
        recurrentBias.withUnsafeMutableBufferPointer { recurrentBias in
        candidate.withUnsafeMutableBufferPointer { candidate in
        recurrentGradient.withUnsafeMutableBufferPointer { recurrentGradient in
        runningGradient.withUnsafeMutableBufferPointer { running in
        outputGradient.withUnsafeMutableBufferPointer { outputGradient in
        previousHiddenGradient.withUnsafeMutableBufferPointer { previousHiddenGradient in
            let step = CellStep(rows: rows, hiddenSize: hiddenSize, time: 2, lengths: lengths,
                                gates: gates.baseAddress!, previousHidden: previousHidden.baseAddress!,
                                hidden: hidden.baseAddress!, output: output.baseAddress!, outputStride: hiddenSize,
                                units: units)
            let gradient = CellGradientStep(hidden: running.baseAddress!, output: outputGradient.baseAddress!,
                                            outputStride: hiddenSize, previousHidden: previousHiddenGradient.baseAddress!)
            body(step, gradient, Pointers(
                previousCell: previousCell.baseAddress!, cell: cell.baseAddress!, cellGradient: cellGradient.baseAddress!,
                recurrent: recurrent.baseAddress!, recurrentBias: recurrentBias.baseAddress!,
                candidate: candidate.baseAddress!, recurrentGradient: recurrentGradient.baseAddress!))
        }}}}}}}}}}}}}}
    }
}

@Test("Cell kernels over ranges of units write what the whole step writes",
      arguments: KernelSelection.testedVariants, CellKernelKind.allCases)
func unitRangesMatchTheWholeStep(kernels: KernelSelection, kind: CellKernelKind) {
    KernelSelection.with(kernels) {
        for hiddenSize in [40, 64] {
            let rows = 5
            var random = TestRandom(seed: UInt64(hiddenSize))
            let start = StepState(rows: rows, hiddenSize: hiddenSize, random: &random)
            let lengths: [Int32] = [5, 2, 3, 1, 4]  // at time 2: rows 1 and 3 padded
            var whole = start
            whole.run(kind, rows: rows, hiddenSize: hiddenSize, lengths: lengths, unitRanges: [0..<hiddenSize])
            var split = start
            split.run(kind, rows: rows, hiddenSize: hiddenSize, lengths: lengths,
                      unitRanges: [16..<33, 0..<16, 33..<hiddenSize])
            #expect(split == whole, "H=\(hiddenSize)")
        }
    }
}
