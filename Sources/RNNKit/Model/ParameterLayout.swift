import RNNKernels

/// Where each named parameter tensor lives in a model's single flat buffer.
///
/// All parameters share one contiguous, cache-line aligned buffer (and each
/// gradient buffer has the same layout), so the optimiser, clipping, the
/// gradient reduction and checkpointing are each one pass over one array.
/// Each tensor starts on a cache line; the padding between them stays zero.
struct ParameterLayout: Sendable {
    struct Entry: Sendable {
        let name: String
        let shape: [Int]
        let offset: Int
        /// How a fresh model fills it (see `Model.init`).
        let initial: CellTensor.Initial
        var count: Int { shape.reduce(1, *) }
    }

    private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    private(set) var totalCount = 0

    /// Floats per cache line.
    private static let alignment = AlignedBuffer.alignment / MemoryLayout<Float>.stride

    init(configuration: ModelConfiguration) {
        let c = configuration
        if case .embedding(let vocabularySize, let dimension) = c.input {
            add("embedding.weight", [vocabularySize, dimension])
        }
        if c.topology == .encoderDecoder { addStack("encoder", c) }
        addStack("rnn", c)
        if c.head == .linear {
            add("head.weight", [c.outputSize, c.stateSize * c.directions])
            add("head.bias", [c.outputSize])
        }
    }

    /// The cell's tensors of every layer and direction.
    private mutating func addStack(_ prefix: String, _ c: ModelConfiguration) {
        for layer in 0..<c.layers {
            let inputSize = layer == 0 ? c.input.rnnInputSize : c.stateSize * c.directions
            for direction in 0..<c.directions {
                let suffix = Self.suffix(layer: layer, direction: direction)
                for tensor in c.cell.cell.tensors(
                    inputSize: inputSize, hiddenSize: c.hiddenSize, projectionSize: c.projectionSize)
                where c.bias || !Self.recurrentBiases.contains(tensor.name) {
                    add("\(prefix).\(tensor.name)\(suffix)", tensor.shape, initial: tensor.initial)
                }
            }
        }
    }

    /// The tensors a model with `bias: false` leaves out, as PyTorch's `bias=False`.
    static let recurrentBiases: Set = ["bias_ih", "bias_hh"]

    /// PyTorch's suffix: `_l{k}` and `_reverse` for the backward direction.
    static func suffix(layer: Int, direction: Int) -> String {
        "_l\(layer)" + (direction == 1 ? "_reverse" : "")
    }

    private mutating func add(_ name: String, _ shape: [Int], initial: CellTensor.Initial = .uniform) {
        let entry = Entry(name: name, shape: shape, offset: totalCount, initial: initial)
        index[name] = entries.count
        entries.append(entry)
        totalCount += (entry.count + Self.alignment - 1) / Self.alignment * Self.alignment
    }

    func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The offset of a tensor known to exist (names built by the model itself).
    func offset(_ name: String) -> Int {
        guard let position = index[name] else { preconditionFailure("no parameter named \(name)") }
        return entries[position].offset
    }
}
