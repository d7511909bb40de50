import CRNNSupport

/// The SIMD instruction sets RNNKit's kernels are compiled for. One binary
/// carries every variant its architecture allows and runs the best one the
/// CPU has (or the one `RNNKIT_ISA` names).
public enum InstructionSet: String, CaseIterable, Sendable, CustomStringConvertible {
    /// AVX-512 F with FMA: 16-float vectors, 32 registers.
    case avx512
    /// AVX2 with FMA (x86-64-v3): 8-float vectors, 16 registers.
    case avx2
    /// x86-64's SSE2 baseline, without FMA: 4-float vectors, separate multiply and add.
    case baseline
    /// arm64 Advanced SIMD with FMA: 4-float vectors.
    case neon

    /// Whether this CPU (and its operating system) can run code compiled for the set.
    public var isSupportedByCPU: Bool {
        switch self {
        case .avx512: Self.features.has_avx512f != 0
        case .avx2: Self.features.has_avx2_fma != 0
        case .baseline:
            #if arch(x86_64)
            true
            #else
            false
            #endif
        case .neon: Self.features.has_neon != 0
        }
    }

    public var description: String {
        switch self {
        case .avx512: "AVX-512"
        case .avx2: "AVX2+FMA"
        case .baseline: "x86-64 baseline (SSE2)"
        case .neon: "NEON"
        }
    }

    private static let features = rnn_detect_cpu_features()
}
