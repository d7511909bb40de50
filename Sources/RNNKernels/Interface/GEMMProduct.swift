/// One of the two products that `GEMM.multiply(m:k:a:lda:transposeA:_:_:accumulate:scratch:)`
/// computes from one op(A): C[m×n] = (accumulate ? C : 0) + op(A) · op(B),
/// with op(B) k×n as in the single multiply.
public struct GEMMProduct {
    /// Columns of C and of op(B).
    public var n: Int
    /// The first element of B. Read only.
    public var b: UnsafePointer<Float>
    /// B's row stride, at least its width (n, or k when transposed).
    public var ldb: Int
    /// Whether op(B) is the transpose of what `b` holds.
    public var transposeB: Bool
    /// The first element of C, m×n with row stride `ldc` (at least n).
    public var c: UnsafeMutablePointer<Float>
    public var ldc: Int

    public init(n: Int, b: UnsafePointer<Float>, ldb: Int, transposeB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        self.n = n
        self.b = b
        self.ldb = ldb
        self.transposeB = transposeB
        self.c = c
        self.ldc = ldc
    }
}
