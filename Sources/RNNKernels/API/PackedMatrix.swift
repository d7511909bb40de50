/// op(B), k×n, packed into tile-wide panels for
/// `Kernels.multiply(m:a:lda:transposeA:packedB:columns:c:ldc:accumulate:scratch:)`.
///
/// Built once per shape and refilled with `pack` whenever the weights change:
/// the recurrent weights are packed once per optimizer step and multiplied at
/// every timestep. Read-only while multiplying, so threads may share one.
///
/// Layout: panel `p` holds columns `wp..<wp+w` as k rows of w floats, w being
/// the register tile's width in the kernel variant the matrix was created
/// for (16 for AVX2); zero-padded past column n; panels follow one
/// another. The matrix is multiplied by that same variant.
///
/// ```swift
/// let recurrent = PackedMatrix(rows: hidden, columns: 4 * hidden)
/// recurrent.pack(wHidden, ldb: hidden, transposed: true)   // W_hh is [4·hidden, hidden]
/// ```
public final class PackedMatrix: @unchecked Sendable {
    /// k: the summation depth.
    public let rows: Int
    /// n: the output columns.
    public let columns: Int
    /// The panels, 64-byte aligned; whole panels, so the last one is zero-padded.
    let storage: AlignedBuffer
    /// The kernels that pack and multiply this matrix.
    let kernels: Kernels

    /// Allocates storage for a k×n op(B), filled with zeros until `pack` is called.
    ///
    /// - Parameters:
    ///   - k: Rows of op(B), the summation depth.
    ///   - n: Columns of op(B).
    ///   - kernels: The kernels that pack and multiply it.
    public init(rows k: Int, columns n: Int, kernels: Kernels = .current) {
        precondition(k >= 0 && n >= 0, "PackedMatrix: negative shape \(k)×\(n)")
        rows = k
        columns = n
        self.kernels = kernels
        let width = kernels.backend.panelWidth
        storage = AlignedBuffer(count: (n + width - 1) / width * width * k)
    }

    /// Packs op(B) from `b`.
    ///
    /// - Parameters:
    ///   - b: The first element of B: k×n with row stride `ldb`, or n×k when `transposed`.
    ///   - ldb: B's row stride, at least its width (`columns`, or `rows` when transposed).
    ///   - transposed: Whether op(B) is the transpose of what `b` holds.
    /// - Complexity: O(k·n).
    public func pack(_ b: UnsafePointer<Float>, ldb: Int, transposed: Bool) {
        precondition(
            ldb >= (transposed ? rows : columns),
            "PackedMatrix.pack: ldb=\(ldb) is narrower than B's storage width \(transposed ? rows : columns)")
        guard rows > 0, columns > 0 else { return }
        kernels.backend.pack(
            b, ldb: ldb, transposed: transposed, rows: rows, columns: columns,
            into: storage.baseAddress)
    }
}
