/// The cache blocking every instruction set's GEMM shares; only the register
/// tile's width (two vectors) differs between them.
public enum GEMMBlocking {
    /// Rows of the register tile: 6 rows × 2 vectors = 12 accumulators, plus
    /// 2 B vectors and a broadcast, fit the 16 registers of SSE, AVX2 and NEON
    /// (AVX-512 has 32).
    public static let microRows = 6
    /// Depth of a packed block: a 16 KiB B panel (AVX2) and a 6 KiB A panel share L1.
    public static let depthBlock = 256
    /// Rows of a packed A block (a multiple of `microRows`): 144 KiB, in L2.
    public static let rowBlock = 144
    /// Columns of a packed B block (a multiple of every tile width): 2 MiB, in
    /// L3 with room for other threads' blocks; wide enough for 4·hidden gates
    /// up to hidden = 512 in one block.
    public static let columnBlock = 2048
    /// The widest register tile of any instruction set: two 16-float AVX-512 vectors.
    public static let widestMicroColumns = 32
}
