import KernelInterface

// AVX-512 F (x86-64-v4): one 16-float zmm register per vector, 32 registers.
// Package.swift sets this module's target flags; the kernels themselves are
// the shared templates, copied in by the kernel generator plugin.

/// The SIMD vector the kernels are written in: one register of this variant.
typealias Vector = SIMD16<Float>
/// Unsigned words in the same lanes, for random draws (dropout's masks).
typealias Bits = SIMD16<UInt32>

var variantInstructionSet: InstructionSet { .avx512 }
