import RNNKernels

/// `torch.optim.AdamW`: decoupled weight decay, `p *= 1 - lr * weightDecay`,
/// then the Adam update of the plain gradient.
public struct AdamW: OptimizerRule {
    /// The base rate, `lr`.
    public var learningRate: Float
    /// `betas`: the decay rates of the first and second moments.
    public var beta1: Float
    public var beta2: Float
    /// `eps`, added to the bias-corrected root of the second moment.
    public var epsilon: Float
    /// Decoupled decay: each step shrinks the weights by `lr * weightDecay`.
    public var weightDecay: Float

    /// The rule with PyTorch's defaults for what is not given.
    public init(
        learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0.01
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// The first and second moments.
    public var stateNames: [String] { ["exp_avg", "exp_avg_sq"] }

    public func validate() throws(ModelError) {
        try validateAdamSettings(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
    }

    public func update(_ slice: ParameterSlice, step: Int, learningRate: Float) {
        // PyTorch forms the factor in double, then multiplies in the parameters' precision.
        if weightDecay != 0 {
            slice.kernels.scale(
                slice.parameters, count: slice.count, by: Float(1 - Double(learningRate) * Double(weightDecay)))
        }
        slice.kernels.adamUpdate(
            parameters: slice.parameters, gradients: slice.gradients,
            firstMoment: slice.state(0), secondMoment: slice.state(1),
            count: slice.count, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: 0, step: step + 1)
    }

    public var description: String {
        "adamw(lr=\(learningRate), betas=(\(beta1), \(beta2)), eps=\(epsilon), weight_decay=\(weightDecay))"
    }
}

extension Optimizer {
    /// ``AdamW``: `torch.optim.AdamW(lr, betas=(beta1, beta2), eps, weight_decay)`.
    public static func adamW(
        learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0.01
    ) -> Optimizer {
        Optimizer(
            AdamW(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay))
    }
}
