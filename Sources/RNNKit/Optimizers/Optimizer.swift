import RNNKernels

/// An update rule: what one optimiser step does to the flat parameter
/// buffer, with PyTorch's semantics, defaults and state names.
///
/// Each rule is one file in `Sources/RNNKit/Optimizers/` (`SGD.swift`,
/// `Adam.swift`, `AdamW.swift`) with a static factory on ``Optimizer``. The
/// trainer never asks which rule it runs: it allocates the buffers the rule
/// names, hands it slices of the parameters, and saves the buffers under
/// those names in checkpoints.
public protocol OptimizerRule: Sendable, CustomStringConvertible {
    /// The base learning rate; a ``LearningRateSchedule`` scales from it.
    var learningRate: Float { get }

    /// PyTorch's names of the per-parameter state buffers this rule keeps
    /// (`momentum_buffer`, `exp_avg`, `exp_avg_sq`), in the order
    /// `ParameterSlice.state(_:)` numbers them. Each buffer is as large as
    /// the parameters and starts at zero.
    var stateNames: [String] { get }

    /// Throws ``ModelError/invalidSetting(_:)`` for settings PyTorch refuses,
    /// and for NaN or infinite ones.
    func validate() throws(ModelError)

    /// Applies one update to `slice` from its gradients, with the vectorised
    /// kernels the slice carries.
    ///
    /// The trainer splits the parameters into slices across threads, so an
    /// update must be elementwise.
    /// - Parameters:
    ///   - step: the updates applied before this one (0 on the first).
    ///   - learningRate: the rate of this step, from the schedule.
    func update(_ slice: ParameterSlice, step: Int, learningRate: Float)

    /// A canonical spelling of the rule and its settings, PyTorch's names in
    /// lower case (`adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)`).
    /// Checkpoints store it, and refuse to resume under another.
    var description: String { get }
}

/// A contiguous range of the flat parameter buffer, its gradients and the
/// same range of each optimiser state buffer.
public struct ParameterSlice {
    /// The parameters to update in place.
    public let parameters: UnsafeMutablePointer<Float>
    /// The reduced (and clipped) gradients of those parameters.
    public let gradients: UnsafePointer<Float>
    /// The number of elements in the slice.
    public let count: Int
    /// The kernels the trainer runs, for the update's vectorised passes.
    public let kernels: Kernels
    private let stateBases: UnsafePointer<UnsafeMutablePointer<Float>>
    private let offset: Int

    init(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int, kernels: Kernels,
        stateBases: UnsafePointer<UnsafeMutablePointer<Float>>, offset: Int
    ) {
        self.parameters = parameters
        self.gradients = gradients
        self.count = count
        self.kernels = kernels
        self.stateBases = stateBases
        self.offset = offset
    }

    /// This slice of the state buffer named `stateNames[index]`.
    public func state(_ index: Int) -> UnsafeMutablePointer<Float> { stateBases[index] + offset }
}

/// An optimiser: one ``OptimizerRule`` behind a value that the trainer,
/// checkpoints and command line pass around.
///
/// ```swift
/// let trainer = Trainer(model: model, optimizer: .adamW(learningRate: 1e-3, weightDecay: 0.01))
/// ```
public struct Optimizer: Sendable, Equatable, CustomStringConvertible {
    /// The update rule.
    public let rule: any OptimizerRule

    /// Wraps an update rule.
    public init(_ rule: some OptimizerRule) { self.rule = rule }

    /// The base learning rate.
    public var learningRate: Float { rule.learningRate }

    /// The rule's canonical description, as checkpoints store it.
    public var description: String { rule.description }

    /// Throws ``ModelError/invalidSetting(_:)`` for settings the rule refuses.
    public func validate() throws(ModelError) { try rule.validate() }

    /// Two optimisers are equal when they are the same rule with the same settings.
    public static func == (lhs: Optimizer, rhs: Optimizer) -> Bool { lhs.description == rhs.description }
}

/// Throws ``ModelError/invalidSetting(_:)`` naming the setting when
/// `holds` is false or `value` is not finite; shared by the rules' `validate`.
func requireSetting(_ holds: Bool, _ name: String, _ value: Float, expected: String) throws(ModelError) {
    guard holds, value.isFinite else { throw .invalidSetting("\(name) is \(value), expected \(expected)") }
}
