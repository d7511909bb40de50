import CRNNSupport
import KernelInterface

// Forward timesteps with the recurrent product fused into the cell's step:
// per block of one vector of hidden units, register tiles hold every gate of
// those units for a few rows and accumulate `h' · W_hhᵀ` onto the input
// projection, reading the previous hidden state in place (the recurrent GEMM
// packs it first). After each tile the cell's update runs on its rows of
// the block while their pre-activations are still in L1 (the unfused step
// reads them back after the whole product). One call makes a timestep.
//
// The weights are packed gate-interleaved (`GateInterleaved.pack`). Each
// accumulator is the same chain of multiply-adds as the recurrent GEMM's
// (from the gates buffer, in increasing k), and the update is the cell
// kernel's: a fused step gives the bits of the recurrent multiply and cell
// kernel it replaces. The generator makes one entry per configured hidden
// size up to its `fusedHiddenSizeLimit`, for every `enum Name: FusedStepKernel` here.
//
// Why the update does not read the registers themselves: inlined into every
// row of every tile, the activations grew the step past the SIL inliner's
// limit, and `perf` showed the tiles out of line, with neither their row
// count nor their depth constant; called out of line per row, each call
// spills the other rows' accumulators (no vector register survives a call
// on x86-64). In profiles of the small LSTM, both took a larger share of the
// step (46-47%) than the multiply and cell kernel they replaced (43%).

/// A cell's forward timestep with its recurrent product fused in.
protocol FusedStepKernel {
    /// The name of the cell kernels it replaces.
    static var name: String { get }
    /// Gate blocks in the cell's W_hh.
    static var gateCount: Int { get }
    /// Whether this variant runs the fused step faster than the recurrent
    /// multiply and the cell kernel; the registry offers it only then.
    static var beatsUnfusedStep: Bool { get }
    /// `step.gates` holds the input projection (with the biases); `weights`
    /// are `GateInterleaved.pack`'s. `step.units` must start and end on a
    /// multiple of the vector width.
    static func forward(_ step: CellStep, weights: UnsafePointer<Float>, hiddenSize: Int)
}

/// The four LSTM gates of one vector of hidden units: a tile row's
/// pre-activations, or one k's row of gate-interleaved weights.
struct LSTMGates {
    var i: Vector, f: Vector, g: Vector, o: Vector

    init(i: Vector = Vector(), f: Vector = Vector(), g: Vector = Vector(), o: Vector = Vector()) {
        (self.i, self.f, self.g, self.o) = (i, f, g, o)
    }

    /// Four consecutive vectors, one per gate: a row of gate-interleaved weights.
    @inline(__always)
    init(loading pointer: UnsafePointer<Float>) {
        let width = Vector.scalarCount
        self.init(
            i: loadVector(pointer), f: loadVector(pointer + width), g: loadVector(pointer + 2 * width),
            o: loadVector(pointer + 3 * width))
    }

    /// self += a · weights, gate by gate.
    @inline(__always)
    mutating func accumulate(_ a: Float, _ weights: LSTMGates) {
        let broadcast = Vector(repeating: a)
        i = multiplyAdd(broadcast, weights.i, i)
        f = multiplyAdd(broadcast, weights.f, f)
        g = multiplyAdd(broadcast, weights.g, g)
        o = multiplyAdd(broadcast, weights.o, o)
    }
}

enum GateInterleaved {
    /// Packs W_hh (`[gateCount · hiddenSize, hiddenSize]`, PyTorch's layout)
    /// for a fused step: per block of `Vector.scalarCount` hidden units,
    /// `hiddenSize` rows (one per k) of `gateCount` vectors, the block's
    /// units in each gate. `hiddenSize` must be a multiple of the vector width.
    static func pack(
        _ weights: UnsafePointer<Float>, gateCount: Int, hiddenSize size: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        let width = Vector.scalarCount, rowLength = gateCount * width
        for gate in 0..<gateCount {
            for unit in 0..<size {
                let source = weights + (gate * size + unit) * size
                let destination = packed + unit / width * size * rowLength + gate * width + unit % width
                for k in 0..<size { destination[k * rowLength] = source[k] }
            }
        }
    }
}

/// The LSTM's forward step, fused: register tiles of `tileRows` rows by the
/// four gates of one vector of units.
enum FusedLSTMStep: FusedStepKernel {
    static var name: String { LSTMKernel.name }
    static var gateCount: Int { 4 }

    /// Four accumulators a row, beside four weight vectors and a broadcast:
    /// 6 rows (24 accumulators) in 32 vector registers, 2 rows in 16.
    static var tileRows: Int { hasThirtyTwoRegisters ? 6 : 2 }

    /// With 16 registers only the 2-row tile fits: 8 accumulators, just the
    /// chains two FMA pipes need to hide their latency, and six loads
    /// (four weight vectors, two broadcasts) for every eight multiply-adds,
    /// where the GEMM's 6 × 2 tile has eight for twelve. With AVX2 it ran
    /// 3-15% slower than the unfused step (`rnnkit-bench --gemm`,
    /// H = 64-256); the 6-row tile with AVX-512 ran 1.07-1.25x at 64 and 128
    /// units. NEON has 32 registers too, and the same 6-row tile.
    static var beatsUnfusedStep: Bool { hasThirtyTwoRegisters }

    static var hasThirtyTwoRegisters: Bool { variantInstructionSet == .avx512 || variantInstructionSet == .neon }

    @inline(__always)
    static func forward(_ step: CellStep, weights: UnsafePointer<Float>, hiddenSize size: Int) {
        let width = Vector.scalarCount
        let tiles = _RowPanels(rows: step.rows, panelRows: tileRows)
        // Unit blocks outside, so that a block's weights (hiddenSize × 4
        // vectors) stay in L1 across the row tiles.
        for block in stride(from: step.units.lowerBound, to: step.units.upperBound, by: width) {
            let panel = weights + block / width * size * 4 * width
            for index in 0..<tiles.count {
                let firstRow = tiles.firstRow(of: index)
                // The next tile's pre-activations were written by the input
                // projection long before, and are rarely in L1: fetch them
                // while this tile computes, as the GEMM does for its C.
                let (nextIndex, nextBlock) =
                    index + 1 < tiles.count ? (index + 1, block) : (0, block + width)
                if nextBlock < step.units.upperBound {
                    for row in tiles.firstRow(of: nextIndex)..<tiles.firstRow(of: nextIndex) + tiles.rows(of: nextIndex)
                    {
                        for gate in 0..<4 {
                            rnn_prefetch_for_update(step.gates + row * 4 * size + gate * size + nextBlock)
                        }
                    }
                }
                switch tiles.rows(of: index) {
                case 6: tile(rows: 6, firstRow: firstRow, block: block, panel: panel, step, hiddenSize: size)
                case 5: tile(rows: 5, firstRow: firstRow, block: block, panel: panel, step, hiddenSize: size)
                case 4: tile(rows: 4, firstRow: firstRow, block: block, panel: panel, step, hiddenSize: size)
                case 3: tile(rows: 3, firstRow: firstRow, block: block, panel: panel, step, hiddenSize: size)
                case 2: tile(rows: 2, firstRow: firstRow, block: block, panel: panel, step, hiddenSize: size)
                default: tile(rows: 1, firstRow: firstRow, block: block, panel: panel, step, hiddenSize: size)
                }
                // Right away, while the tile's pre-activations are in L1: rows
                // 4·hiddenSize floats apart share L1 sets (4 KiB at 256), so a
                // block's 32 rows of gates do not stay there until the end of it.
                update(step, block: block, rows: firstRow..<firstRow + tiles.rows(of: index))
            }
        }
    }

    /// The cell's update of one block of units, `block..<block+width`, in
    /// `rows`: a padded row carries its state over as
    /// `LSTMKernel.forward` does. Out of line, so that the tiles stay within
    /// the inliner's limit (see above).
    @inline(never)
    static func update(_ step: CellStep, block: Int, rows: Range<Int>) {
        let size = step.hiddenSize, width = Vector.scalarCount
        var step = step
        step.units = block..<block + width
        for row in rows where step.carryOverIfPadded(row: row, hiddenSize: size) {
            LSTMKernel.update(step, row: row, offset: block, lanes: width, hiddenSize: size)
        }
    }

    /// Rows `firstRow..<firstRow+rows` (`rows` a constant after inlining) of
    /// the units `block..<block+width`.
    ///
    /// Transparent, so inlined whatever the inliner's budget: left to it, the
    /// 256-unit step kept its tiles out of line (row count and depth
    /// unknown), and `perf` put 38% of a streaming step in them.
    @_transparent
    static func tile(
        rows: Int, firstRow: Int, block: Int, panel: UnsafePointer<Float>, _ step: CellStep, hiddenSize size: Int
    ) {
        // Row r's pre-activations of the block, where the cell kernel reads them.
        @inline(__always) func gates(_ row: Int) -> UnsafeMutablePointer<Float> { step.gates + row * 4 * size + block }
        @inline(__always) func start(_ row: Int) -> LSTMGates {
            guard row < rows else { return LSTMGates() }
            let row = gates(firstRow + row)
            return LSTMGates(
                i: loadVector(row), f: loadVector(row + size), g: loadVector(row + 2 * size),
                o: loadVector(row + 3 * size))
        }
        @inline(__always) func store(_ tile: LSTMGates, row: Int) {
            let row = gates(row)
            storeVector(tile.i, row)
            storeVector(tile.f, row + size)
            storeVector(tile.g, row + 2 * size)
            storeVector(tile.o, row + 3 * size)
        }
        var r0 = start(0), r1 = start(1), r2 = start(2), r3 = start(3), r4 = start(4), r5 = start(5)
        let h = step.previousHidden + firstRow * size
        var b = panel
        var k = 0
        @inline(__always) func advance() {
            let w = LSTMGates(loading: b)
            r0.accumulate(h[k], w)
            if rows > 1 { r1.accumulate(h[size + k], w) }
            if rows > 2 { r2.accumulate(h[2 * size + k], w) }
            if rows > 3 { r3.accumulate(h[3 * size + k], w) }
            if rows > 4 { r4.accumulate(h[4 * size + k], w) }
            if rows > 5 { r5.accumulate(h[5 * size + k], w) }
            b += 4 * Vector.scalarCount
            k += 1
        }
        // Four steps per iteration, as in the GEMM's micro-kernel; the width
        // divides the hidden size, so 4 does.
        for _ in 0..<size / 4 {
            advance()
            advance()
            advance()
            advance()
        }
        store(r0, row: firstRow)
        if rows > 1 { store(r1, row: firstRow + 1) }
        if rows > 2 { store(r2, row: firstRow + 2) }
        if rows > 3 { store(r3, row: firstRow + 3) }
        if rows > 4 { store(r4, row: firstRow + 4) }
        if rows > 5 { store(r5, row: firstRow + 5) }
    }
}
