import RNNKernels

/// `torch.optim.SGD`: weight decay added to the gradient, then momentum (the
/// buffer starts as the first gradient; no dampening, no Nesterov).
public struct SGD: OptimizerRule {
    /// The base rate, `lr`.
    public var learningRate: Float
    /// `momentum`; 0 keeps no buffer.
    public var momentum: Float
    /// L2 decay: `weightDecay * p` is added to the gradient.
    public var weightDecay: Float

    /// The rule with PyTorch's defaults for what is not given.
    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// `momentum_buffer`, kept only when there is momentum, as in PyTorch.
    public var stateNames: [String] { momentum != 0 ? ["momentum_buffer"] : [] }

    public func validate() throws(ModelError) {
        try requireSetting(learningRate >= 0, "learning rate", learningRate, expected: "a finite value >= 0")
        try requireSetting(momentum >= 0, "momentum", momentum, expected: "a finite value >= 0")
        try requireSetting(weightDecay >= 0, "weight decay", weightDecay, expected: "a finite value >= 0")
    }

    public func update(_ slice: ParameterSlice, step: Int, learningRate: Float) {
        slice.kernels.sgdUpdate(
            parameters: slice.parameters, gradients: slice.gradients,
            momentum: momentum != 0 ? slice.state(0) : nil, count: slice.count,
            learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
            firstStep: step == 0)
    }

    public var description: String { "sgd(lr=\(learningRate), momentum=\(momentum), weight_decay=\(weightDecay))" }
}

extension Optimizer {
    /// ``SGD``: `torch.optim.SGD(lr, momentum, weight_decay)`.
    public static func sgd(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) -> Optimizer {
        Optimizer(SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay))
    }
}
