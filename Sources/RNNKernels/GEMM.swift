/// Single-precision matrix multiply, packed and cache-blocked in the
/// GotoBLAS/BLIS manner.
///
/// The loops, outermost first: columns of C in blocks of `columnBlock`, the
/// summation depth in blocks of `depthBlock` (op(B)'s block is packed here into
/// `microColumns`-wide panels that stay in L3), rows in blocks of `rowBlock`
/// (op(A)'s block is packed into `microRows`-tall panels that stay in L2), then
/// the macro-kernel's column panels and row panels, and at the bottom a
/// `microRows` × `microColumns` register tile that streams one A panel and one
/// B panel from L1.
///
/// Every output element is one chain of multiply-adds (fused, with one
/// rounding, where the target has FMA) in increasing k, starting from
/// `accumulate ? C : 0`: a depth block starts from the value the
/// previous one stored into C. So an element's value depends on neither `m`,
/// which rows or columns are computed together, the blocking constants, nor
/// which of the two `multiply` functions computed it — the data-parallel
/// trainer relies on this to be bit-reproducible whatever the thread count.
public enum GEMM {
    /// C[m×n] = (accumulate ? C : 0) + op(A) · op(B), all matrices row-major.
    ///
    /// op(A) is m×k: `a` itself (row stride `lda`) when `transposeA` is false,
    /// or the transpose of the k×m matrix `a` (row stride `lda`) when it is
    /// true. Likewise op(B) is k×n: `b` (row stride `ldb`), or the transpose of
    /// the n×k matrix `b`. C must not overlap A or B.
    ///
    /// ```swift
    /// // Input projection of every timestep at once: gates = X · Wᵀ.
    /// GEMM.multiply(m: steps * batch, n: 4 * hidden, k: inputSize,
    ///               a: x, lda: inputSize, transposeA: false,
    ///               b: w, ldb: inputSize, transposeB: true,
    ///               c: gates, ldc: 4 * hidden, accumulate: false, scratch: scratch)
    /// ```
    ///
    /// - Parameters:
    ///   - m: Rows of C and of op(A).
    ///   - n: Columns of C and of op(B).
    ///   - k: The summation depth: columns of op(A), rows of op(B).
    ///   - a: The first element of A. Read only.
    ///   - lda: A's row stride, at least its width (k, or m when transposed).
    ///   - transposeA: Whether op(A) is the transpose of what `a` holds.
    ///   - b: The first element of B. Read only.
    ///   - ldb: B's row stride, at least its width (n, or k when transposed).
    ///   - transposeB: Whether op(B) is the transpose of what `b` holds.
    ///   - c: The first element of C, m×n with row stride `ldc` (at least n).
    ///   - accumulate: Add to C's contents instead of overwriting them.
    ///   - scratch: Packing buffers, used by one thread at a time.
    /// - Complexity: 2·m·n·k flops; packs op(B) once and op(A) ⌈n/columnBlock⌉ times.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        scratch: GEMMScratch
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM: negative shape m=\(m) n=\(n) k=\(k)")
        precondition(lda >= (transposeA ? m : k), "GEMM: lda=\(lda) is narrower than op(A)'s storage width \(transposeA ? m : k)")
        precondition(ldb >= (transposeB ? k : n), "GEMM: ldb=\(ldb) is narrower than op(B)'s storage width \(transposeB ? k : n)")
        precondition(ldc >= n, "GEMM: ldc=\(ldc) is narrower than C's width n=\(n)")
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if !accumulate { zeroRows(m, columns: 0..<n, of: c, ldc: ldc) }
            return
        }
        let packedA = scratch.packedA.baseAddress
        let packedB = scratch.packedB.baseAddress
        let tile = scratch.tile.baseAddress

        for firstColumn in stride(from: 0, to: n, by: columnBlock) {
            let blockColumns = min(columnBlock, n - firstColumn)
            for firstDepth in stride(from: 0, to: k, by: depthBlock) {
                let depth = firstDepth..<min(firstDepth + depthBlock, k)
                packB(b, ldb: ldb, transposed: transposeB,
                      depth: depth, columns: firstColumn..<firstColumn + blockColumns, into: packedB)
                for firstRow in stride(from: 0, to: m, by: rowBlock) {
                    let blockRows = min(rowBlock, m - firstRow)
                    packA(a, lda: lda, transposed: transposeA,
                          rows: firstRow..<firstRow + blockRows, depth: depth, into: packedA)
                    macroKernel(
                        rows: blockRows, depth: depth.count,
                        packedA: packedA, packedB: packedB, panelStride: depth.count * microColumns,
                        columns: 0..<blockColumns,
                        c: c + firstRow * ldc + firstColumn, ldc: ldc,
                        loadsC: accumulate || firstDepth > 0, tile: tile)
                }
            }
        }
    }

    /// C[m×columns] = (accumulate ? C : 0) + op(A) · B[:, columns], with op(B)
    /// packed in advance.
    ///
    /// For the recurrent weights, packed once and multiplied at every
    /// timestep. Only the output columns in `columns` are computed and
    /// written; callers that split N across threads give each thread its own
    /// range, and a column's value is bit-identical whichever range computed it,
    /// and bit-identical to the unpacked `multiply` on the same inputs.
    ///
    /// ```swift
    /// recurrent.pack(wHidden, ldb: hidden, transposed: true)   // once per step of the optimizer
    /// for t in 0..<steps {                                      // gates[t] += h[t-1] · W_hhᵀ
    ///     GEMM.multiply(m: batch, a: h[t - 1], lda: hidden, transposeA: false,
    ///                   packedB: recurrent, columns: 0..<4 * hidden,
    ///                   c: gates[t], ldc: 4 * hidden, accumulate: true, scratch: scratch)
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - m: Rows of C and of op(A).
    ///   - a: The first element of A; op(A) is m×`packedB.rows`.
    ///   - lda: A's row stride, at least its width (k, or m when transposed).
    ///   - transposeA: Whether op(A) is the transpose of what `a` holds.
    ///   - packedB: op(B), k×n.
    ///   - columns: The output columns to compute, within `0..<packedB.columns`.
    ///   - c: The first element of C (column 0, not `columns.lowerBound`), row stride `ldc`.
    ///   - ldc: C's row stride, at least `columns.upperBound`.
    ///   - accumulate: Add to C's contents instead of overwriting them.
    ///   - scratch: Packing buffers, used by one thread at a time.
    /// - Complexity: 2·m·`columns.count`·k flops; packs op(A) once.
    public static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        packedB: PackedMatrix, columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        scratch: GEMMScratch
    ) {
        let k = packedB.rows
        precondition(m >= 0, "GEMM: negative row count m=\(m)")
        precondition(columns.lowerBound >= 0 && columns.upperBound <= packedB.columns,
                     "GEMM: columns \(columns) outside the packed matrix's 0..<\(packedB.columns)")
        precondition(lda >= (transposeA ? m : k), "GEMM: lda=\(lda) is narrower than op(A)'s storage width \(transposeA ? m : k)")
        precondition(ldc >= columns.upperBound, "GEMM: ldc=\(ldc) is narrower than the columns written, \(columns)")
        guard m > 0, !columns.isEmpty else { return }
        guard k > 0 else {
            if !accumulate { zeroRows(m, columns: columns, of: c, ldc: ldc) }
            return
        }
        let packedA = scratch.packedA.baseAddress
        let panels = UnsafePointer(packedB.storage.baseAddress)
        let tile = scratch.tile.baseAddress

        for firstDepth in stride(from: 0, to: k, by: depthBlock) {
            let depth = firstDepth..<min(firstDepth + depthBlock, k)
            for firstRow in stride(from: 0, to: m, by: rowBlock) {
                let blockRows = min(rowBlock, m - firstRow)
                packA(a, lda: lda, transposed: transposeA,
                      rows: firstRow..<firstRow + blockRows, depth: depth, into: packedA)
                macroKernel(
                    rows: blockRows, depth: depth.count,
                    packedA: packedA, packedB: panels + firstDepth * microColumns,
                    panelStride: k * microColumns,
                    columns: columns,
                    c: c + firstRow * ldc, ldc: ldc,
                    loadsC: accumulate || firstDepth > 0, tile: tile)
            }
        }
    }
}

// MARK: - Blocking

extension GEMM {
    /// Rows of the register tile: 6 rows × 2 vectors = 12 accumulators, plus
    /// 2 B vectors and a broadcast, of AVX2's 16 registers.
    static let microRows = 6
    /// Columns of the register tile: two 8-float vectors.
    static let microColumns = 16
    /// Depth of a packed block: a 16 KiB B panel and a 6 KiB A panel share L1.
    static let depthBlock = 256
    /// Rows of a packed A block (a multiple of `microRows`): 144 KiB, in L2.
    static let rowBlock = 144
    /// Columns of a packed B block (a multiple of `microColumns`): 2 MiB, in
    /// L3 with room for other threads' blocks; wide enough for 4·hidden gates
    /// up to hidden = 512 in one block.
    static let columnBlock = 2048

    static func zeroRows(_ rows: Int, columns: Range<Int>, of c: UnsafeMutablePointer<Float>, ldc: Int) {
        for row in 0..<rows {
            (c + row * ldc + columns.lowerBound).update(repeating: 0, count: columns.count)
        }
    }
}

/// How a block of rows is cut into row panels of at most `GEMM.microRows`
/// rows: as evenly as possible, so that 8 rows make 4 + 4, not 6 + 2.
///
/// A tile of r rows runs 2r independent FMA chains; under 8 chains the FMA
/// latency (4 cycles, 2 pipes) leaves the pipes idle, so a 2-row tile costs
/// as long as a 4-row one. Small batches, the recurrent multiply's m, gain most.
struct _RowPanels {
    let count: Int
    /// Rows of the shortest panels; the first `longPanels` have one more.
    let baseRows: Int
    let longPanels: Int

    init(rows: Int) {
        count = (rows + GEMM.microRows - 1) / GEMM.microRows
        baseRows = count > 0 ? rows / count : 0
        longPanels = count > 0 ? rows % count : 0
    }

    func firstRow(of panel: Int) -> Int { panel * baseRows + min(panel, longPanels) }
    func rows(of panel: Int) -> Int { panel < longPanels ? baseRows + 1 : baseRows }
}
