import Testing
@testable import RNNKernels

// The fused forward step must give, bit for bit, what the recurrent multiply
// onto the gates and the cell's forward kernel give: the driver uses it in
// their place, and the golden, gradient and determinism tests were written
// against them.

/// One LSTM timestep's buffers, filled from a seed; rows of index 1 mod 3
/// end before the step's position, so they are padded when lengths are given.
private final class LSTMStepBuffers {
    let rows: Int, size: Int
    let lengths: [Int32]
    private var buffers: [String: UnsafeMutableBufferPointer<Float>] = [:]

    init(rows: Int, hiddenSize size: Int, seed: UInt64) {
        self.rows = rows
        self.size = size
        lengths = (0..<rows).map { $0 % 3 == 1 ? 2 : 9 }
        var random = TestRandom(seed: seed)
        // W_hh scaled like PyTorch's initialisation, so that the
        // pre-activations stay in the activations' working range.
        let bound = 1 / Float(size).squareRoot()
        for (name, values) in [
            ("gates", random.floats(rows * 4 * size, -1, 1)), ("previousHidden", random.floats(rows * size, -1, 1)),
            ("previousCell", random.floats(rows * size, -2, 2)),
            ("weightHH", random.floats(4 * size * size, -bound, bound)),
            ("hidden", [Float](repeating: .nan, count: rows * size)),
            ("cell", [Float](repeating: .nan, count: rows * size)),
            ("output", [Float](repeating: .nan, count: rows * 2 * size))
        ] {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
            _ = buffer.initialize(from: values)
            buffers[name] = buffer
        }
    }

    deinit { for buffer in buffers.values { buffer.deallocate() } }

    subscript(name: String) -> UnsafeMutablePointer<Float> { buffers[name]!.baseAddress! }

    func values(_ name: String, _ range: Range<Int>? = nil) -> [UInt32] {
        let buffer = buffers[name]!
        return buffer[range ?? 0..<buffer.count].map(\.bitPattern)
    }

    /// The step over `units` at position 5; the output is the second half of
    /// rows twice the hidden size wide (a bidirectional layer's backward half).
    func step(units: Range<Int>, keepsForBackward: Bool, lengths: UnsafePointer<Int32>?) -> CellStep {
        var step = CellStep(
            rows: rows, hiddenSize: size, time: 5, lengths: lengths, gates: self["gates"],
            previousHidden: self["previousHidden"], hidden: self["hidden"], output: self["output"] + size,
            outputStride: 2 * size, units: units)
        step.previousCell = UnsafePointer(self["previousCell"])
        step.cell = self["cell"]
        step.keepsForBackward = keepsForBackward
        return step
    }
}

struct FusedStepTests {
    @Test("a fused LSTM step for every configured hidden size up to 256, in 32 registers", .everyKernelVariant)
    func generatedForTheConfiguredSizes() {
        let kernels = Kernels.current
        let generic = Kernels(
            KernelSelection(instructionSet: kernels.selection.instructionSet, usesSpecializedKernels: false))
        func sizes(_ kernels: Kernels, _ cell: String) -> [Int] {
            KernelSelection.specializedHiddenSizes.filter { kernels.fusedStep(named: cell, hiddenSize: $0) != nil }
        }
        // Offered where a variant has 32 vector registers (see `FusedLSTMStep.beatsUnfusedStep`).
        let instructionSet = kernels.selection.instructionSet
        let expected =
            instructionSet == .avx512 || instructionSet == .neon
            ? KernelSelection.specializedHiddenSizes.filter { $0 <= 256 } : []
        #expect(sizes(kernels, "lstm") == expected)
        #expect(sizes(kernels, "gru").isEmpty)
        #expect(sizes(generic, "lstm").isEmpty)
        let unconfigured = kernels.fusedStep(named: "lstm", hiddenSize: 48)
        #expect(unconfigured == nil)
    }

    @Test(
        "the fused step gives the recurrent multiply and cell kernel's bits", .everyKernelVariant,
        arguments: [32, 64, 128, 256], [1, 5, 13, 32])
    func matchesTheRecurrentMultiplyAndTheCellKernel(hiddenSize size: Int, rows: Int) throws {
        let kernels = Kernels.current
        guard let fused = kernels.fusedStep(named: "lstm", hiddenSize: size) else { return }
        let cell = try #require(kernels.cell(named: "lstm", hiddenSize: size))
        let scratch = GEMMScratch()
        let half = size / 2 / 16 * 16
        for (keepsForBackward, padded) in [(true, true), (false, false), (true, false)] {
            for unitRanges in [[0..<size], [0..<half, half..<size]] {
                let seed = UInt64(size * 100 + rows)
                let expected = LSTMStepBuffers(rows: rows, hiddenSize: size, seed: seed)
                let actual = LSTMStepBuffers(rows: rows, hiddenSize: size, seed: seed)
                let packed = PackedMatrix(rows: size, columns: 4 * size, kernels: kernels)
                packed.pack(expected["weightHH"], ldb: size, transposed: true)
                let interleaved = AlignedBuffer(count: fused.packedCount)
                fused.pack(actual["weightHH"], into: interleaved.baseAddress)
                expected.lengths.withUnsafeBufferPointer { lengths in
                    for units in unitRanges {
                        let step = expected.step(
                            units: units, keepsForBackward: keepsForBackward,
                            lengths: padded ? lengths.baseAddress : nil)
                        for gate in 0..<4 {
                            kernels.multiply(
                                m: rows, a: step.previousHidden, lda: size, transposeA: false, packedB: packed,
                                columns: gate * size + units.lowerBound..<gate * size + units.upperBound,
                                c: step.gates, ldc: 4 * size, accumulate: true, scratch: scratch)
                        }
                        cell.forward(step)
                        fused.forward(
                            actual.step(
                                units: units, keepsForBackward: keepsForBackward,
                                lengths: padded ? lengths.baseAddress : nil),
                            weights: interleaved.baseAddress)
                    }
                }
                let context = "keepsForBackward \(keepsForBackward), padded \(padded), units \(unitRanges)"
                for name in ["hidden", "cell", "output"] {
                    #expect(actual.values(name) == expected.values(name), "\(name), \(context)")
                }
                guard keepsForBackward else { continue }
                // A padded row's gates are never read (backward zeroes them); the fused step leaves them.
                for row in 0..<rows where !padded || expected.lengths[row] > 5 {
                    let gates = row * 4 * size..<(row + 1) * 4 * size
                    #expect(
                        actual.values("gates", gates) == expected.values("gates", gates),
                        "activated gates of row \(row), \(context)")
                }
            }
        }
    }
}
