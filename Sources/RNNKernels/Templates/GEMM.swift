import KernelInterface

/// Single-precision matrix multiply, packed and cache-blocked in the
/// GotoBLAS/BLIS manner; `RNNKernels.GEMM` documents the contract.
///
/// The loops, outermost first: columns of C in blocks of `columnBlock`, the
/// summation depth in blocks of `depthBlock` (op(B)'s block is packed here into
/// `microColumns`-wide panels that stay in L3), rows in blocks of `rowBlock`
/// (op(A)'s block is packed into `microRows`-tall panels that stay in L2), then
/// the macro-kernel's column panels and row panels, and at the bottom a
/// `microRows` × `microColumns` register tile that streams one A panel and one
/// B panel from L1.
enum GEMM {
    /// C[m×n] = (accumulate ? C : bias in every row, or 0) + op(A) · op(B);
    /// see `RNNKernels.GEMM`.
    static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>? = nil,
        scratch: GEMMScratch
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if accumulate { return }
            if let bias {
                VectorOps.broadcastRows(bias, into: c, rows: m, columns: n, rowStride: ldc)
            } else {
                zeroRows(m, columns: 0..<n, of: c, ldc: ldc)
            }
            return
        }
        let packedB = scratch.packedB.baseAddress

        for firstColumn in stride(from: 0, to: n, by: columnBlock) {
            let blockColumns = min(columnBlock, n - firstColumn)
            for firstDepth in stride(from: 0, to: k, by: depthBlock) {
                let depth = firstDepth..<min(firstDepth + depthBlock, k)
                packB(
                    b, ldb: ldb, transposed: transposeB,
                    depth: depth, columns: firstColumn..<firstColumn + blockColumns, into: packedB)
                guard firstDepth == 0, !accumulate, let bias else {
                    multiplyRowBlocks(
                        m: m, a: a, lda: lda, transposeA: transposeA, depth: depth,
                        packedB: packedB, panelStride: depth.count * microColumns, columns: 0..<blockColumns,
                        c: c + firstColumn, ldc: ldc, loadsC: accumulate || firstDepth > 0,
                        scratch: scratch, inlinesTiles: false)
                    continue
                }
                // A bias start: each row block of C is filled with the bias just
                // before its tiles load it, while it is still in cache (filling
                // all of C first would write it out to memory and read it back).
                for firstRow in stride(from: 0, to: m, by: rowBlock) {
                    let blockRows = min(rowBlock, m - firstRow), block = c + firstRow * ldc + firstColumn
                    VectorOps.broadcastRows(
                        bias + firstColumn, into: block, rows: blockRows, columns: blockColumns, rowStride: ldc)
                    multiplyRowBlocks(
                        m: blockRows, a: a + (transposeA ? firstRow : firstRow * lda), lda: lda, transposeA: transposeA,
                        depth: depth, packedB: packedB, panelStride: depth.count * microColumns,
                        columns: 0..<blockColumns, c: block, ldc: ldc, loadsC: true,
                        scratch: scratch, inlinesTiles: false)
                }
            }
        }
    }

    /// `first.c` (+)= op(A) · op(`first.b`) and `second.c` (+)= op(A) · op(`second.b`):
    /// both B blocks packed side by side, so that each block of op(A) is packed
    /// once for the two. Two plain multiplies, with the same values, when the
    /// blocks do not fit one column block together.
    static func multiply(
        m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        _ first: GEMMProduct, _ second: GEMMProduct, accumulate: Bool, scratch: GEMMScratch
    ) {
        let secondPanel = (first.n + microColumns - 1) / microColumns
        guard m > 0, k > 0, (secondPanel * microColumns + second.n) <= columnBlock else {
            multiply(
                m: m, n: first.n, k: k, a: a, lda: lda, transposeA: transposeA,
                b: first.b, ldb: first.ldb, transposeB: first.transposeB,
                c: first.c, ldc: first.ldc, accumulate: accumulate, scratch: scratch)
            multiply(
                m: m, n: second.n, k: k, a: a, lda: lda, transposeA: transposeA,
                b: second.b, ldb: second.ldb, transposeB: second.transposeB,
                c: second.c, ldc: second.ldc, accumulate: accumulate, scratch: scratch)
            return
        }
        let packedA = scratch.packedA.baseAddress, packedB = scratch.packedB.baseAddress
        for firstDepth in stride(from: 0, to: k, by: depthBlock) {
            let depth = firstDepth..<min(firstDepth + depthBlock, k)
            let panelStride = depth.count * microColumns
            let secondB = packedB + secondPanel * panelStride
            packB(
                first.b, ldb: first.ldb, transposed: first.transposeB, depth: depth, columns: 0..<first.n, into: packedB
            )
            packB(
                second.b, ldb: second.ldb, transposed: second.transposeB, depth: depth, columns: 0..<second.n,
                into: secondB)
            for firstRow in stride(from: 0, to: m, by: rowBlock) {
                let blockRows = min(rowBlock, m - firstRow)
                packA(
                    a, lda: lda, transposed: transposeA, rows: firstRow..<firstRow + blockRows, depth: depth,
                    into: packedA)
                func multiplyBlock(_ product: GEMMProduct, panels: UnsafePointer<Float>) {
                    macroKernel(
                        rows: blockRows, depth: depth.count,
                        packedA: packedA, packedB: panels, panelStride: panelStride, columns: 0..<product.n,
                        c: product.c + firstRow * product.ldc, ldc: product.ldc, loadsC: accumulate || firstDepth > 0,
                        tile: scratch.tile.baseAddress)
                }
                multiplyBlock(first, panels: packedB)
                multiplyBlock(second, panels: secondB)
            }
        }
    }

    /// C[m×columns] = (accumulate ? C : 0) + op(A) · B[:, columns], with op(B)
    /// (k×`columnCount`) packed in advance into `panels` by `packB`.
    ///
    /// Only the output columns in `columns` are computed and written; a
    /// column's value is bit-identical whichever range computed it, and
    /// bit-identical to the unpacked `multiply` on the same inputs.
    @inline(never)
    static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        panels: UnsafePointer<Float>, k: Int, columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        scratch: GEMMScratch
    ) {
        multiplyPacked(
            m: m, a: a, lda: lda, transposeA: transposeA, panels: panels, k: k, columns: columns,
            c: c, ldc: ldc, accumulate: accumulate, scratch: scratch,
            depthBlock: depthBlock, inlinesTiles: false)
    }

    /// The packed multiply's body, inlined into the entry above and into the
    /// generated kernels. Those pass constants: the depth `k`, a `depthBlock`
    /// that divides it (so every block has the same constant depth), and
    /// `inlinesTiles`, so that the micro-kernels' trip counts are fixed too.
    /// The value of C does not depend on `depthBlock`: a block continues the
    /// FMA chains where the previous one stored them.
    @inline(__always)
    static func multiplyPacked(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        panels: UnsafePointer<Float>, k: Int, columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        scratch: GEMMScratch, depthBlock: Int, inlinesTiles: Bool
    ) {
        guard m > 0, !columns.isEmpty else { return }
        guard k > 0 else {
            if !accumulate { zeroRows(m, columns: columns, of: c, ldc: ldc) }
            return
        }
        for firstDepth in stride(from: 0, to: k, by: depthBlock) {
            let depth = firstDepth..<min(firstDepth + depthBlock, k)
            multiplyRowBlocks(
                m: m, a: a, lda: lda, transposeA: transposeA, depth: depth,
                packedB: panels + firstDepth * microColumns, panelStride: k * microColumns, columns: columns,
                c: c, ldc: ldc, loadsC: accumulate || firstDepth > 0,
                scratch: scratch, inlinesTiles: inlinesTiles)
        }
    }

    /// C[m, columns] = (loadsC ? C : 0) + op(A)[:, depth] · packed B, one
    /// `rowBlock` of op(A) packed at a time: the loop both entry points share.
    @inline(__always)
    static func multiplyRowBlocks(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool, depth: Range<Int>,
        packedB: UnsafePointer<Float>, panelStride: Int, columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, loadsC: Bool,
        scratch: GEMMScratch, inlinesTiles: Bool
    ) {
        let packedA = scratch.packedA.baseAddress
        for firstRow in stride(from: 0, to: m, by: rowBlock) {
            let blockRows = min(rowBlock, m - firstRow)
            packA(
                a, lda: lda, transposed: transposeA,
                rows: firstRow..<firstRow + blockRows, depth: depth, into: packedA)
            macroKernel(
                rows: blockRows, depth: depth.count,
                packedA: packedA, packedB: packedB, panelStride: panelStride, columns: columns,
                c: c + firstRow * ldc, ldc: ldc, loadsC: loadsC,
                tile: scratch.tile.baseAddress, inlinesTiles: inlinesTiles)
        }
    }
}

// MARK: - Blocking

extension GEMM {
    static var microRows: Int { GEMMBlocking.microRows }
    /// Columns of the register tile: two vectors.
    static var microColumns: Int { 2 * Vector.scalarCount }
    static var depthBlock: Int { GEMMBlocking.depthBlock }
    static var rowBlock: Int { GEMMBlocking.rowBlock }
    static var columnBlock: Int { GEMMBlocking.columnBlock }

    static func zeroRows(_ rows: Int, columns: Range<Int>, of c: UnsafeMutablePointer<Float>, ldc: Int) {
        for row in 0..<rows {
            (c + row * ldc + columns.lowerBound).update(repeating: 0, count: columns.count)
        }
    }
}

/// How a block of rows is cut into row panels of at most `GEMM.microRows`
/// rows (or `panelRows`): as evenly as possible, so that 8 rows make 4 + 4, not 6 + 2.
///
/// A tile of r rows runs 2r independent FMA chains; under 8 chains the FMA
/// latency (4 cycles, 2 pipes) leaves the pipes idle, so a 2-row tile costs
/// as long as a 4-row one. Small batches, the recurrent multiply's m, gain most.
struct _RowPanels {
    let count: Int
    /// Rows of the shortest panels; the first `longPanels` have one more.
    let baseRows: Int
    let longPanels: Int

    init(rows: Int, panelRows: Int = GEMM.microRows) {
        count = (rows + panelRows - 1) / panelRows
        baseRows = count > 0 ? rows / count : 0
        longPanels = count > 0 ? rows % count : 0
    }

    func firstRow(of panel: Int) -> Int { panel * baseRows + min(panel, longPanels) }
    func rows(of panel: Int) -> Int { panel < longPanels ? baseRows + 1 : baseRows }
}
