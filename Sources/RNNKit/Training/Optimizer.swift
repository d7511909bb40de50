import RNNKernels

/// An update rule with PyTorch's semantics and defaults.
public enum Optimizer: Sendable, Equatable {
    /// `torch.optim.SGD`: weight decay added to the gradient, then momentum
    /// (the buffer starts as the first gradient; no dampening, no Nesterov).
    case sgd(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0)
    /// `torch.optim.Adam` with L2 weight decay added to the gradient.
    case adam(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0)

    public var learningRate: Float {
        switch self {
        case .sgd(let learningRate, _, _), .adam(let learningRate, _, _, _, _): learningRate
        }
    }
}

extension Optimizer {
    /// Refuses what PyTorch's optimisers refuse, and NaN or infinite values:
    /// a negative rate or decay, betas outside `0..<1`, a negative epsilon.
    public func validate() throws(ModelError) {
        func require(_ holds: Bool, _ name: String, _ value: Float, _ expected: String) throws(ModelError) {
            guard holds, value.isFinite else { throw .invalidSetting("\(name) is \(value), expected \(expected)") }
        }
        switch self {
        case .sgd(let learningRate, let momentum, let weightDecay):
            try require(learningRate >= 0, "learning rate", learningRate, "a finite value >= 0")
            try require(momentum >= 0, "momentum", momentum, "a finite value >= 0")
            try require(weightDecay >= 0, "weight decay", weightDecay, "a finite value >= 0")
        case .adam(let learningRate, let beta1, let beta2, let epsilon, let weightDecay):
            try require(learningRate >= 0, "learning rate", learningRate, "a finite value >= 0")
            try require(beta1 >= 0 && beta1 < 1, "beta1", beta1, "a value in 0..<1")
            try require(beta2 >= 0 && beta2 < 1, "beta2", beta2, "a value in 0..<1")
            try require(epsilon >= 0, "epsilon", epsilon, "a finite value >= 0")
            try require(weightDecay >= 0, "weight decay", weightDecay, "a finite value >= 0")
        }
    }
}

/// Gradient clipping, applied to the reduced gradient before the update.
public enum GradientClipping: Sendable, Equatable {
    case none
    /// `clip_grad_norm_`: scale all gradients by `max / (norm + 1e-6)` when the global L2 norm exceeds `max`.
    case norm(Float)
    /// `clip_grad_value_`: clamp every gradient element into `-max...max`.
    case value(Float)

    /// Refuses a limit that is not a finite positive number: a negative one
    /// would reverse the update, a NaN one would silently not clip.
    public func validate() throws(ModelError) {
        switch self {
        case .none: return
        case .norm(let limit), .value(let limit):
            guard limit > 0, limit.isFinite else { throw .invalidSetting("the clipping limit is \(limit), expected a finite value > 0") }
        }
    }
}

/// The optimiser's running state, in the model's flat parameter layout.
final class OptimizerState: ChunkJob {
    let optimizer: Optimizer
    let kernels: Kernels
    let parameters: UnsafeMutablePointer<Float>
    /// The reduced gradient of the current step, set before `runChunk` calls.
    var gradients: UnsafePointer<Float>?
    private(set) var step = 0
    let firstMoment: AlignedBuffer?
    let secondMoment: AlignedBuffer?

    init(optimizer: Optimizer, parameters: AlignedBuffer, kernels: Kernels) {
        self.optimizer = optimizer
        self.kernels = kernels
        self.parameters = parameters.baseAddress
        let parameterCount = parameters.count
        switch optimizer {
        case .sgd(_, let momentum, _):
            firstMoment = momentum != 0 ? AlignedBuffer(count: parameterCount) : nil
            secondMoment = nil
        case .adam:
            firstMoment = AlignedBuffer(count: parameterCount)
            secondMoment = AlignedBuffer(count: parameterCount)
        }
    }

    /// Applies one update to `parameters[range]` from `gradients[range]`; the
    /// scheduler splits the range across threads and the trainer then calls
    /// `finishStep`.
    func runChunk(_ range: Range<Int>) {
        guard let gradients else { return }
        let start = range.lowerBound, count = range.count
        switch optimizer {
        case .sgd(let learningRate, let momentum, let weightDecay):
            kernels.sgdUpdate(parameters: parameters + start, gradients: gradients + start,
                              momentum: firstMoment.map { $0.baseAddress + start }, count: count,
                              learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
                              firstStep: step == 0)
        case .adam(let learningRate, let beta1, let beta2, let epsilon, let weightDecay):
            kernels.adamUpdate(parameters: parameters + start, gradients: gradients + start,
                               firstMoment: firstMoment!.baseAddress + start, secondMoment: secondMoment!.baseAddress + start,
                               count: count, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                               weightDecay: weightDecay, step: step + 1)
        }
    }

    func finishStep() { step += 1 }

    /// Restores a saved step count (checkpoints).
    func restore(step: Int) { self.step = step }
}
