/// Single-precision matrix multiply, packed and cache-blocked in the
/// GotoBLAS/BLIS manner, run by the selected instruction-set variant.
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
extension Kernels {
    /// C[m×n] = (accumulate ? C : 0) + op(A) · op(B), all matrices row-major.
    ///
    /// op(A) is m×k: `a` itself (row stride `lda`) when `transposeA` is false,
    /// or the transpose of the k×m matrix `a` (row stride `lda`) when it is
    /// true. Likewise op(B) is k×n: `b` (row stride `ldb`), or the transpose of
    /// the n×k matrix `b`. C must not overlap A or B.
    ///
    /// ```swift
    /// // Input projection of every timestep at once: gates = X · Wᵀ.
    /// kernels.multiply(m: steps * batch, n: 4 * hidden, k: inputSize,
    ///                  a: x, lda: inputSize, transposeA: false,
    ///                  b: w, ldb: inputSize, transposeB: true,
    ///                  c: gates, ldc: 4 * hidden, accumulate: false, scratch: scratch)
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
    public func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        scratch: GEMMScratch
    ) {
        checkShape(m: m, n: n, k: k, lda: lda, transposeA: transposeA, ldb: ldb, transposeB: transposeB, ldc: ldc)
        backend.multiply(
            m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
            c: c, ldc: ldc, accumulate: accumulate, bias: nil, scratch: scratch)
    }

    /// C[m×n] = bias + op(A) · op(B), the `n` floats of `bias` added to every
    /// row: the bits of filling C with the bias and accumulating into it, but
    /// filled a row block at a time just before the block is multiplied, so
    /// that C is not written out to memory and read back.
    ///
    /// ```swift
    /// // The input projection with its bias: gates = b + X · Wᵀ.
    /// kernels.multiply(m: steps * batch, n: 4 * hidden, k: inputSize,
    ///                  a: x, lda: inputSize, transposeA: false,
    ///                  b: w, ldb: inputSize, transposeB: true,
    ///                  bias: b, c: gates, ldc: 4 * hidden, scratch: scratch)
    /// ```
    ///
    /// Parameters as in the multiply above; `bias` holds n floats and must
    /// not overlap C.
    public func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        bias: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        scratch: GEMMScratch
    ) {
        checkShape(m: m, n: n, k: k, lda: lda, transposeA: transposeA, ldb: ldb, transposeB: transposeB, ldc: ldc)
        backend.multiply(
            m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
            c: c, ldc: ldc, accumulate: false, bias: bias, scratch: scratch)
    }

    private func checkShape(m: Int, n: Int, k: Int, lda: Int, transposeA: Bool, ldb: Int, transposeB: Bool, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM: negative shape m=\(m) n=\(n) k=\(k)")
        precondition(
            lda >= (transposeA ? m : k), "GEMM: lda=\(lda) is narrower than op(A)'s storage width \(transposeA ? m : k)"
        )
        precondition(
            ldb >= (transposeB ? k : n), "GEMM: ldb=\(ldb) is narrower than op(B)'s storage width \(transposeB ? k : n)"
        )
        precondition(ldc >= n, "GEMM: ldc=\(ldc) is narrower than C's width n=\(n)")
    }

    /// Two products of one op(A): `first.c` = (accumulate ? `first.c` : 0) +
    /// op(A) · op(`first.b`), and likewise `second`.
    ///
    /// For the weight gradients of a recurrent layer, which multiply the same
    /// transposed gate gradients by the layer's input and by its previous
    /// states: each block of op(A) is packed once for both. Every element is
    /// bit-identical to what the single multiply computes for its product.
    ///
    /// ```swift
    /// // dW_ih += dGatesᵀ · X and dW_hh += dGatesᵀ · H_prev.
    /// kernels.multiply(m: 4 * hidden, k: positions, a: gateGradients, lda: 4 * hidden, transposeA: true,
    ///                  GEMMProduct(n: inputSize, b: x, ldb: inputSize, transposeB: false, c: dWih, ldc: inputSize),
    ///                  GEMMProduct(n: hidden, b: hPrevious, ldb: hidden, transposeB: false, c: dWhh, ldc: hidden),
    ///                  accumulate: true, scratch: scratch)
    /// ```
    ///
    /// - Parameters:
    ///   - m: Rows of op(A) and of both C.
    ///   - k: The summation depth: columns of op(A), rows of both op(B).
    ///   - a: The first element of A. Read only.
    ///   - lda: A's row stride, at least its width (k, or m when transposed).
    ///   - transposeA: Whether op(A) is the transpose of what `a` holds.
    ///   - first: The first product's B and C. Neither C may overlap A, either B or the other C.
    ///   - second: The second product's B and C.
    ///   - accumulate: Add to both C's contents instead of overwriting them.
    ///   - scratch: Packing buffers, used by one thread at a time.
    /// - Complexity: 2·m·(first.n + second.n)·k flops.
    public func multiply(
        m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        _ first: GEMMProduct, _ second: GEMMProduct, accumulate: Bool, scratch: GEMMScratch
    ) {
        precondition(
            m >= 0 && k >= 0 && first.n >= 0 && second.n >= 0,
            "GEMM: negative shape m=\(m) k=\(k) n=\(first.n), \(second.n)")
        precondition(
            lda >= (transposeA ? m : k), "GEMM: lda=\(lda) is narrower than op(A)'s storage width \(transposeA ? m : k)"
        )
        func check(_ product: GEMMProduct) {
            precondition(
                product.ldb >= (product.transposeB ? k : product.n),
                "GEMM: ldb=\(product.ldb) is narrower than op(B)'s storage width \(product.transposeB ? k : product.n)")
            precondition(product.ldc >= product.n, "GEMM: ldc=\(product.ldc) is narrower than C's width n=\(product.n)")
        }
        check(first)
        check(second)
        backend.multiply(
            m: m, k: k, a: a, lda: lda, transposeA: transposeA, first, second, accumulate: accumulate, scratch: scratch)
    }

    /// C[m×columns] = (accumulate ? C : 0) + op(A) · B[:, columns], with op(B)
    /// packed in advance.
    ///
    /// For the recurrent weights, packed once and multiplied at every
    /// timestep. Runs on the variant that packed `packedB`, with the kernel
    /// generated for its shape when there is one. Only the output columns in `columns` are computed and
    /// written; callers that split N across threads give each thread its own
    /// range, and a column's value is bit-identical whichever range computed it,
    /// and bit-identical to the unpacked `multiply` on the same inputs.
    ///
    /// ```swift
    /// recurrent.pack(wHidden, ldb: hidden, transposed: true)   // once per step of the optimizer
    /// for t in 0..<steps {                                      // gates[t] += h[t-1] · W_hhᵀ
    ///     kernels.multiply(m: batch, a: h[t - 1], lda: hidden, transposeA: false,
    ///                      packedB: recurrent, columns: 0..<4 * hidden,
    ///                      c: gates[t], ldc: 4 * hidden, accumulate: true, scratch: scratch)
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
    public func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        packedB: PackedMatrix, columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
        scratch: GEMMScratch
    ) {
        let k = packedB.rows
        precondition(m >= 0, "GEMM: negative row count m=\(m)")
        precondition(
            columns.lowerBound >= 0 && columns.upperBound <= packedB.columns,
            "GEMM: columns \(columns) outside the packed matrix's 0..<\(packedB.columns)")
        precondition(
            lda >= (transposeA ? m : k), "GEMM: lda=\(lda) is narrower than op(A)'s storage width \(transposeA ? m : k)"
        )
        precondition(ldc >= columns.upperBound, "GEMM: ldc=\(ldc) is narrower than the columns written, \(columns)")
        precondition(
            packedB.kernels.selection == selection,
            "GEMM: the matrix was packed by \(packedB.kernels.selection), not \(selection)")
        backend.multiply(
            m: m, a: a, lda: lda, transposeA: transposeA,
            panels: packedB.storage.baseAddress, rows: k, columnCount: packedB.columns, columns: columns,
            c: c, ldc: ldc, accumulate: accumulate, scratch: scratch,
            specialized: selection.usesSpecializedKernels)
    }
}
