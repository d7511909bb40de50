import KernelInterface

// x86-64's SSE2 baseline, without FMA: one 4-float xmm register per vector, 16 registers.
// Package.swift sets this module's target flags; the kernels themselves are
// the shared templates, copied in by the kernel generator plugin.

/// The SIMD vector the kernels are written in: one register of this variant.
typealias Vector = SIMD4<Float>
/// Unsigned words in the same lanes, for random draws (dropout's masks).
typealias Bits = SIMD4<UInt32>

var variantInstructionSet: InstructionSet { .baseline }
