import Testing
@testable import RNNKernels

// A team of threads splits a step by ranges of hidden units: each range's
// kernels must write exactly what the whole step writes there, bit for bit,
// and nothing outside the range.

/// Every buffer one forward and one backward step of any cell touch, by name.
private final class StepState {
    let rows: Int, hiddenSize: Int
    private(set) var buffers: [String: UnsafeMutableBufferPointer<Float>] = [:]

    init(rows: Int, hiddenSize size: Int, seed: UInt64) {
        self.rows = rows
        hiddenSize = size
        var random = TestRandom(seed: seed)
        for (name, count, isInput) in [
            ("gates", rows * 4 * size, true), ("previousHidden", rows * size, true), ("hidden", rows * size, false),
            ("output", rows * size, false), ("cell", rows * size, false), ("previousCell", rows * size, true),
            ("cellGradient", rows * size, true), ("recurrent", rows * 3 * size, true),
            ("recurrentBias", 3 * size, true),
            ("candidate", rows * size, false), ("recurrentGradient", rows * 3 * size, false),
            ("runningGradient", rows * size, true), ("outputGradient", rows * size, true),
            ("previousHiddenGradient", rows * size, false)
        ] as [(String, Int, Bool)] {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            _ = buffer.initialize(from: isInput ? random.floats(count, -2, 2) : [Float](repeating: 0, count: count))
            buffers[name] = buffer
        }
    }

    deinit { for buffer in buffers.values { buffer.deallocate() } }

    subscript(name: String) -> UnsafeMutablePointer<Float> { buffers[name]!.baseAddress! }

    /// Every buffer's contents, to compare two runs.
    var contents: [String: [Float]] { buffers.mapValues(Array.init) }

    /// Runs `kind`'s forward over each range of `unitRanges` in turn, then its backward.
    func run(_ kind: CellKernelKind, lengths: UnsafePointer<Int32>, unitRanges: [Range<Int>]) {
        let p = self
        for forward in [true, false] {
            for units in unitRanges {
                let step = CellStep(
                    rows: rows, hiddenSize: hiddenSize, time: 2, lengths: lengths,
                    gates: p["gates"], previousHidden: p["previousHidden"], hidden: p["hidden"],
                    output: p["output"], outputStride: hiddenSize, units: units)
                let gradient = CellGradientStep(
                    hidden: p["runningGradient"], output: p["outputGradient"],
                    outputStride: hiddenSize, previousHidden: p["previousHiddenGradient"])
                switch (kind, forward) {
                case (.rnnTanh, true): VanillaRNNKernel.forward(step, relu: false)
                case (.rnnTanh, false): VanillaRNNKernel.backward(step, gradient, relu: false)
                case (.lstm, true): LSTMKernel.forward(step, previousCell: p["previousCell"], cell: p["cell"])
                case (.lstm, false):
                    LSTMKernel.backward(
                        step, gradient, previousCell: p["previousCell"], cell: p["cell"],
                        cellGradient: p["cellGradient"])
                case (.gru, true):
                    GRUKernel.forward(
                        step, recurrent: p["recurrent"], recurrentBias: p["recurrentBias"],
                        candidateRecurrent: p["candidate"])
                case (.gru, false):
                    GRUKernel.backward(
                        step, gradient, candidateRecurrent: p["candidate"],
                        recurrentGradient: p["recurrentGradient"])
                }
            }
        }
    }
}

@Test(
    "Cell kernels over ranges of units write what the whole step writes",
    arguments: KernelSelection.testedVariants, CellKernelKind.allCases)
func unitRangesMatchTheWholeStep(kernels: KernelSelection, kind: CellKernelKind) {
    KernelSelection.with(kernels) {
        for hiddenSize in [40, 64] {
            let lengths: [Int32] = [5, 2, 3, 1, 4]  // at time 2: rows 1 and 3 padded
            let whole = StepState(rows: lengths.count, hiddenSize: hiddenSize, seed: UInt64(hiddenSize))
            let split = StepState(rows: lengths.count, hiddenSize: hiddenSize, seed: UInt64(hiddenSize))
            lengths.withUnsafeBufferPointer { lengths in
                whole.run(kind, lengths: lengths.baseAddress!, unitRanges: [0..<hiddenSize])
                split.run(kind, lengths: lengths.baseAddress!, unitRanges: [16..<33, 0..<16, 33..<hiddenSize])
            }
            #expect(split.contents == whole.contents, "H=\(hiddenSize)")
        }
    }
}
