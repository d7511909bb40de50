import RNNKernels

/// A recurrent network: an optional embedding, a stack of recurrent layers
/// (and an encoder stack for encoder-decoder models), and a linear head.
///
/// Parameters carry PyTorch's names (`rnn.weight_ih_l0`, `head.weight`, ...)
/// and layouts, so a model file moves between RNNKit and a PyTorch module
/// with attributes `rnn`, `head` and optionally `embedding` / `encoder`.
///
/// ```swift
/// let model = try Model(ModelConfiguration(cell: .lstm, input: .dense(features: 8), hiddenSize: 32,
///                                          outputSize: 1, topology: .manyToOne), seed: 42)
/// ```
///
/// A `Model` is a reference type: a `Trainer` updates its parameters in place.
/// Reading it from several threads is safe; training it from two at once is not.
///
/// `@unchecked Sendable`: every stored property is a `let` of a Sendable
/// value except `parameters`, an `AlignedBuffer` whose floats are written
/// only by `setParameter` and a `Trainer`'s update, both documented above as
/// not to be run concurrently with other use; the buffer's address never changes.
public final class Model: @unchecked Sendable {
    public let configuration: ModelConfiguration
    let layout: ParameterLayout
    /// Every parameter in one flat, aligned buffer (see `ParameterLayout`).
    let parameters: AlignedBuffer

    /// A model initialised as PyTorch does: recurrent weights and biases
    /// uniform in ±1/√hidden, the head uniform in ±1/√fan_in, the embedding
    /// standard normal, all drawn from a generator seeded with `seed`; layer
    /// norms' gains 1 and biases 0.
    public init(_ configuration: ModelConfiguration, seed: UInt64 = 0) throws(ModelError) {
        try Self.checkProcessor()
        try configuration.validate()
        self.configuration = configuration
        layout = ParameterLayout(configuration: configuration)
        parameters = try Self.allocate(count: layout.totalCount)
        var generator = SeededGenerator(seed: seed)
        let recurrentBound = 1 / Float(configuration.hiddenSize).squareRoot()
        let headBound = 1 / Float(configuration.stateSize * configuration.directions).squareRoot()
        for entry in layout.entries {
            let values = parameters.baseAddress + entry.offset
            // How a tensor's elements are drawn is decided once per tensor, not per element.
            let draw: (inout SeededGenerator) -> Float
            if case .constant(let value) = entry.initial {
                draw = { _ in value }
            } else if entry.name == "embedding.weight" {
                draw = { $0.normal() }
            } else {
                let bound = entry.name.hasPrefix("head.") ? headBound : recurrentBound
                draw = { $0.uniform(-bound, bound) }
            }
            for index in 0..<entry.count { values[index] = draw(&generator) }
        }
    }

    /// Refuses to run while `RNNKIT_ISA` or `RNNKIT_KERNELS` asks for kernels
    /// this binary or CPU cannot run: the user asked for something specific,
    /// so running something else silently would mislead.
    static func checkProcessor() throws(ModelError) {
        if let problem = KernelSelection.environmentProblem { throw .unsupportedProcessor(problem) }
    }

    /// The kernels the model's passes run with, taken when a trainer,
    /// predictor or step runner is made: the process's selection
    /// (`KernelSelection.current`), the widest variant this processor runs
    /// unless `RNNKIT_ISA` or `RNNKIT_KERNELS` says otherwise.
    public var kernelSelection: KernelSelection { KernelSelection.current }

    /// Allocates a parameter-sized buffer, refusing sizes that cannot be meant.
    static func allocate(count: Int) throws(ModelError) -> AlignedBuffer {
        guard count <= ModelConfiguration.maximumParameterCount else {
            throw .tooLarge("\(count) parameters (\(count / (1 << 28)) GiB) exceed RNNKit's limit of 2^31")
        }
        return AlignedBuffer(count: count)
    }

    /// Parameter tensor names in storage order.
    public var parameterNames: [String] { layout.entries.map(\.name) }

    /// The number of trainable scalars.
    public var parameterCount: Int { layout.entries.reduce(0) { $0 + $1.count } }

    /// The shape of a parameter tensor, or nil if the model has none by that name.
    public func shape(of name: String) -> [Int]? { layout.entry(name)?.shape }

    /// A copy of a parameter tensor's values (row-major), or nil if there is none by that name.
    public func parameter(_ name: String) -> [Float]? {
        guard let entry = layout.entry(name) else { return nil }
        return Array(UnsafeBufferPointer(start: parameters.baseAddress + entry.offset, count: entry.count))
    }

    /// Replaces a parameter tensor's values.
    public func setParameter(_ name: String, to values: [Float]) throws(ModelError) {
        guard let entry = layout.entry(name) else { throw .unexpectedParameter(name: name, source: "setParameter") }
        guard values.count == entry.count else {
            throw .parameterShape(name: name, expected: entry.shape, actual: [values.count], source: "setParameter")
        }
        values.withUnsafeBufferPointer {
            (parameters.baseAddress + entry.offset).update(from: $0.baseAddress!, count: entry.count)
        }
        parametersChanged()
    }

    /// Counts the writes to `parameters` after the model was made
    /// (`setParameter`, a training step's update), so that a form of the
    /// weights kept beside them (a step runner's packed recurrent weights)
    /// knows when to refresh. Every such write calls `parametersChanged()`.
    private(set) var parameterVersion = 0

    func parametersChanged() { parameterVersion &+= 1 }

    /// An independent copy with the same configuration and parameter values.
    public func copy() -> Model {
        Model(copying: self)
    }

    private init(copying other: Model) {
        configuration = other.configuration
        layout = other.layout
        parameters = AlignedBuffer(count: other.parameters.count)
        parameters.baseAddress.update(from: other.parameters.baseAddress, count: other.parameters.count)
    }

    init(configuration: ModelConfiguration, layout: ParameterLayout, parameters: AlignedBuffer) {
        self.configuration = configuration
        self.layout = layout
        self.parameters = parameters
    }
}
