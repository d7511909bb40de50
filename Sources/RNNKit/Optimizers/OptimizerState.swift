import RNNKernels

/// The optimiser's running state, in the model's flat parameter layout: the
/// buffers its rule names, the step count, and the schedule's position.
final class OptimizerState: ChunkJob {
    let rule: any OptimizerRule
    let kernels: Kernels
    let parameters: UnsafeMutablePointer<Float>
    /// The reduced gradient of the current step, set before `runChunk` calls.
    var gradients: UnsafePointer<Float>?
    /// The learning rate of the current step, set with `gradients`.
    var learningRate: Float = 0
    private(set) var step = 0
    /// The buffers named by `rule.stateNames`, in that order.
    let buffers: [AlignedBuffer]
    /// Their base addresses, for `ParameterSlice` (read by every chunk without allocating).
    private let bases: UnsafeMutablePointer<UnsafeMutablePointer<Float>>

    init(rule: any OptimizerRule, parameters: AlignedBuffer, kernels: Kernels) {
        self.rule = rule
        self.kernels = kernels
        self.parameters = parameters.baseAddress
        buffers = rule.stateNames.map { _ in AlignedBuffer(count: parameters.count) }
        bases = .allocate(capacity: max(1, buffers.count))
        for (index, buffer) in buffers.enumerated() { (bases + index).initialize(to: buffer.baseAddress) }
    }

    deinit { bases.deallocate() }

    /// Applies one update to `parameters[range]` from `gradients[range]`; the
    /// scheduler splits the range across threads and the trainer then calls
    /// `finishStep`.
    func runChunk(_ range: Range<Int>) {
        guard let gradients else { return }
        let start = range.lowerBound
        rule.update(
            ParameterSlice(
                parameters: parameters + start, gradients: gradients + start, count: range.count,
                kernels: kernels, stateBases: bases, offset: start),
            step: step, learningRate: learningRate)
    }

    func finishStep() { step += 1 }

    /// Restores a saved step count (checkpoints).
    func restore(step: Int) { self.step = step }
}
