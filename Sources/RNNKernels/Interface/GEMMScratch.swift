/// Per-thread packing buffers for `GEMM`, allocated once and reused, so that a
/// training step allocates nothing.
///
/// Sized up front for the largest blocks the blocking constants allow, for
/// the widest instruction set (about 2.2 MiB): a multiply never grows it,
/// whatever its shape or kernel variant. One scratch serves one thread at a
/// time; give each worker thread its own.
///
/// ```swift
/// let scratch = GEMMScratch()          // once per worker thread
/// GEMM.multiply(m: m, n: n, k: k, a: a, lda: k, transposeA: false,
///               b: b, ldb: n, transposeB: false,
///               c: c, ldc: n, accumulate: false, scratch: scratch)
/// ```
public final class GEMMScratch: @unchecked Sendable {
    /// One `rowBlock` × `depthBlock` block of op(A), in `microRows`-row panels.
    public let packedA: AlignedBuffer
    /// One `depthBlock` × `columnBlock` block of op(B), in tile-wide panels.
    public let packedB: AlignedBuffer
    /// A register tile's worth of C, for tiles cut by the edge of C or of a column range.
    public let tile: AlignedBuffer

    /// Allocates the packing buffers for the largest blocks.
    public init() {
        packedA = AlignedBuffer(count: GEMMBlocking.rowBlock * GEMMBlocking.depthBlock)
        packedB = AlignedBuffer(count: GEMMBlocking.depthBlock * GEMMBlocking.columnBlock)
        tile = AlignedBuffer(count: GEMMBlocking.microRows * GEMMBlocking.widestMicroColumns)
    }
}
