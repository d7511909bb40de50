import RNNKernels

/// `torch.optim.Adam`, with L2 weight decay added to the gradient (for
/// decoupled decay see ``AdamW``).
public struct Adam: OptimizerRule {
    /// The base rate, `lr`.
    public var learningRate: Float
    /// `betas`: the decay rates of the first and second moments.
    public var beta1: Float
    public var beta2: Float
    /// `eps`, added to the bias-corrected root of the second moment.
    public var epsilon: Float
    /// L2 decay: `weightDecay * p` is added to the gradient.
    public var weightDecay: Float

    /// The rule with PyTorch's defaults for what is not given.
    public init(
        learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0
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
        slice.kernels.adamUpdate(
            parameters: slice.parameters, gradients: slice.gradients,
            firstMoment: slice.state(0), secondMoment: slice.state(1),
            count: slice.count, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, step: step + 1)
    }

    public var description: String {
        "adam(lr=\(learningRate), betas=(\(beta1), \(beta2)), eps=\(epsilon), weight_decay=\(weightDecay))"
    }
}

extension Optimizer {
    /// ``Adam``: `torch.optim.Adam(lr, betas=(beta1, beta2), eps, weight_decay)`.
    public static func adam(
        learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0
    ) -> Optimizer {
        Optimizer(
            Adam(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay))
    }
}

/// What `torch.optim.Adam` and `AdamW` refuse, and NaN or infinite values:
/// a negative rate, decay or epsilon, betas outside `0..<1`.
func validateAdamSettings(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float)
    throws(ModelError)
{
    try requireSetting(learningRate >= 0, "learning rate", learningRate, expected: "a finite value >= 0")
    try requireSetting(beta1 >= 0 && beta1 < 1, "beta1", beta1, expected: "a value in 0..<1")
    try requireSetting(beta2 >= 0 && beta2 < 1, "beta2", beta2, expected: "a value in 0..<1")
    try requireSetting(epsilon >= 0, "epsilon", epsilon, expected: "a finite value >= 0")
    try requireSetting(weightDecay >= 0, "weight decay", weightDecay, expected: "a finite value >= 0")
}
