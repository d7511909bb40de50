/// The SIMD instruction sets RNNKit's kernels are compiled for. One binary
/// carries every variant its architecture allows and runs the best one the
/// CPU has (or the one `RNNKIT_ISA` names).
public enum InstructionSet: String, CaseIterable, Sendable, CustomStringConvertible {
    /// AVX-512 (x86-64-v4: F, BW, CD, DQ, VL): 16-float vectors, 32 registers.
    case avx512
    /// AVX2 with FMA (x86-64-v3, with BMI1/2, F16C, LZCNT, MOVBE): 8-float vectors, 16 registers.
    case avx2
    /// x86-64's SSE2 baseline, without FMA: 4-float vectors, separate multiply and add.
    case baseline
    /// arm64 Advanced SIMD with FMA: 4-float vectors.
    case neon

    /// Whether this CPU (and its operating system) provide everything the
    /// set's compile target may use (see `ProcessorFeatures`).
    public var isSupportedByCPU: Bool { ProcessorFeatures.host.supports(self) }

    /// The processor architecture whose code the set is.
    var architecture: String { self == .neon ? "arm64" : "x86-64" }

    public var description: String {
        switch self {
        case .avx512: "AVX-512"
        case .avx2: "AVX2+FMA"
        case .baseline: "x86-64 baseline (SSE2)"
        case .neon: "NEON"
        }
    }
}
