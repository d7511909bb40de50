/// A cell's forward timestep with the recurrent product fused into the
/// cell's update, generated for one hidden size: `gates += h' · W_hhᵀ` in
/// registers that hold every gate of the same units, then the cell's kernel
/// on them, in one call and without the gate pre-activations' round trip
/// through memory.
///
/// The results are bit-identical to the recurrent multiply
/// (`Kernels.multiply(m:a:lda:transposeA:packedB:columns:c:ldc:accumulate:scratch:)`
/// onto the gates) followed by the cell's forward kernel: each gate is the
/// same chain of multiply-adds, and the update is the same code.
///
/// ```swift
/// if let fused = kernels.fusedStep(named: "lstm", hiddenSize: 128) {
///     let weights = AlignedBuffer(count: fused.packedCount)
///     fused.pack(weightHH, into: weights.baseAddress)     // once per weight update
///     fused.forward(step, weights: weights.baseAddress)   // every timestep
/// }
/// ```
public struct FusedCellStep: Sendable {
    public let hiddenSize: Int
    /// Gate blocks of the cell's W_hh (4 for an LSTM).
    public let gateCount: Int
    let entry: FusedStepEntry
    let kernels: Kernels

    /// Floats of the packed recurrent weights.
    public var packedCount: Int { gateCount * hiddenSize * hiddenSize }

    /// Packs W_hh, `[gateCount · hiddenSize, hiddenSize]` row-major (PyTorch's
    /// `weight_hh`), into `packed` (`packedCount` floats) in the order the
    /// step reads it. O(packedCount).
    public func pack(_ weightHH: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        kernels.backend.packGateInterleaved(weightHH, gateCount: gateCount, hiddenSize: hiddenSize, into: packed)
    }

    /// One timestep: `step.gates` holds the input projection with the
    /// biases (as for the cell's forward kernel before the recurrent
    /// multiply); the step's other buffers are the cell kernel's.
    /// `step.units` must start and end on multiples of 16.
    public func forward(_ step: CellStep, weights: UnsafePointer<Float>) {
        precondition(
            step.hiddenSize == hiddenSize && step.units.lowerBound % 16 == 0 && step.units.upperBound % 16 == 0
                && step.units.upperBound <= hiddenSize,
            "FusedCellStep: units \(step.units) of hidden size \(step.hiddenSize) for a step of \(hiddenSize)")
        entry.forward(step, weights)
    }
}

extension Kernels {
    /// The fused forward step of the cell named `name` for layers of
    /// `hiddenSize` units, when the build generated one for that size and
    /// the selection uses specialized kernels; nil otherwise (the recurrent
    /// multiply and the cell's kernels then do the same work).
    public func fusedStep(named name: String, hiddenSize: Int) -> FusedCellStep? {
        guard selection.usesSpecializedKernels, let entry = backend.fusedStep(named: name, hiddenSize: hiddenSize)
        else { return nil }
        return FusedCellStep(hiddenSize: hiddenSize, gateCount: entry.gateCount, entry: entry, kernels: self)
    }
}
