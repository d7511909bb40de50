import KernelInterface

// AVX2 + FMA (x86-64-v3): one 8-float ymm register per vector, 16 registers.
// Package.swift sets this module's target flags; the kernels themselves are
// the shared templates, copied in by the kernel generator plugin.

/// The SIMD vector the kernels are written in: one register of this variant.
typealias Vector = SIMD8<Float>
/// Unsigned words in the same lanes, for random draws (dropout's masks).
typealias Bits = SIMD8<UInt32>

var variantInstructionSet: InstructionSet { .avx2 }
