/// The recurrent cell a model is built from, named as in PyTorch. Each is a
/// type in `Sources/RNNKit/Cells/` (see `CellKind.cell`).
public enum CellKind: String, Sendable, CaseIterable, Codable {
    /// Long short-term memory: gates i, f, g, o.
    case lstm
    /// Gated recurrent unit: gates r, z, n.
    case gru
    /// Elman RNN with tanh activation.
    case rnnTanh = "rnn_tanh"
    /// Elman RNN with ReLU activation.
    case rnnReLU = "rnn_relu"
    /// LSTM with layer normalisation of both projections and the cell state
    /// (Ba et al. 2016, Haste's `LayerNormLSTM`).
    case layerNormLSTM = "lstm_ln"

    /// Gate blocks stacked in `weight_ih` / `weight_hh`: 4, 3 or 1.
    public var gateCount: Int { cell.gateCount }

    /// Whether the cell carries a cell state beside the hidden state.
    public var hasCellState: Bool { cell.hasCellState }
}

/// How sequences map to outputs: the four classic topologies.
public enum Topology: String, Sendable, CaseIterable, Codable {
    /// An output at every step (language modelling, tagging).
    case manyToMany = "many_to_many"
    /// One output per sequence, taken at its last valid step (classification, regression).
    case manyToOne = "many_to_one"
    /// One input vector to one output: a sequence of length one.
    case oneToOne = "one_to_one"
    /// One input vector to a sequence: the vector is the first step's input and
    /// each later step reads the previous output (the target during training).
    case oneToMany = "one_to_many"
    /// An encoder reads the input sequence; its final state starts a decoder
    /// that produces an output at every step of its own input sequence.
    case encoderDecoder = "encoder_decoder"

    /// Whether the model emits one output per step rather than per sequence.
    public var outputsPerStep: Bool {
        switch self {
        case .manyToMany, .oneToMany, .encoderDecoder: true
        case .manyToOne, .oneToOne: false
        }
    }
}

/// What maps the top recurrent layer's output (`directions × hiddenSize` per
/// position) to the model's output.
public enum OutputHead: String, Sendable, CaseIterable, Codable {
    /// A linear layer, `head.weight [outputSize, directions × hiddenSize]` and
    /// `head.bias [outputSize]`, as PyTorch's `nn.Linear`.
    case linear
    /// None: the model's output is the top layer's output itself, as a bare
    /// `nn.LSTM`'s is, so `outputSize` must be `directions × hiddenSize`. For
    /// embedding the recurrent layers in a larger model, and for comparing
    /// with a bare PyTorch recurrent module on the same work.
    case identity
}

/// What the first layer reads.
public enum InputEncoding: Sendable, Equatable {
    /// Float feature vectors of the given width.
    case dense(features: Int)
    /// Integer tokens looked up in a learned `embedding.weight` table `[vocabularySize, dimension]`.
    case embedding(vocabularySize: Int, dimension: Int)
    /// Integer tokens fed as one-hot vectors of width `vocabularySize` (done as a
    /// column gather of `weight_ih`, never materialised).
    case oneHot(vocabularySize: Int)

    /// Width of the first recurrent layer's input.
    public var rnnInputSize: Int {
        switch self {
        case .dense(let features): features
        case .embedding(_, let dimension): dimension
        case .oneHot(let vocabularySize): vocabularySize
        }
    }

    /// Whether inputs are integer tokens.
    public var readsTokens: Bool {
        if case .dense = self { return false }
        return true
    }
}

/// Everything that fixes a model's shape.
public struct ModelConfiguration: Sendable, Equatable {
    public var cell: CellKind
    public var input: InputEncoding
    public var hiddenSize: Int
    public var layers: Int
    public var bidirectional: Bool
    public var outputSize: Int
    public var topology: Topology
    /// The characters of a character-level model, index = token; empty otherwise.
    public var vocabulary: [Character]
    public var head: OutputHead
    /// Whether the recurrent layers have `bias_ih` and `bias_hh` (PyTorch's
    /// `bias=`). Without them the cells add no bias; the head keeps its own.
    /// The layer-normalised LSTM has none either way: its norms carry them.
    public var bias: Bool
    /// PyTorch's `dropout=`: in training, each output of every recurrent
    /// layer but the last is zeroed with this probability (the rest scaled
    /// by `1 / (1 - dropout)`) before the next layer reads it; prediction
    /// and `Trainer.loss` use every output as it is. In `[0, 1)`; 0 is none.
    /// The masks come from the trainer's seed and step count, never from
    /// how a mini-batch is split, so the weights stay the same for any
    /// thread, micro-batch or process count.
    public var dropout: Float
    /// PyTorch's `proj_size` (Sak et al. 2014), LSTM only: each layer's
    /// hidden state is projected to this width, `h = W_hr (o * tanh(c))`
    /// with `weight_hr` `[proj_size, hidden_size]`, and the recurrent
    /// weights, outputs and `h_n` are this wide (the cell state keeps
    /// `hidden_size`). Below `hiddenSize`; 0 is none.
    public var projectionSize: Int

    public init(
        cell: CellKind, input: InputEncoding, hiddenSize: Int, layers: Int = 1, bidirectional: Bool = false,
        outputSize: Int, topology: Topology, vocabulary: [Character] = [], head: OutputHead = .linear,
        bias: Bool = true, dropout: Float = 0, projectionSize: Int = 0
    ) {
        self.cell = cell
        self.input = input
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.bidirectional = bidirectional
        self.outputSize = outputSize
        self.topology = topology
        self.vocabulary = vocabulary
        self.head = head
        self.bias = bias
        self.dropout = dropout
        self.projectionSize = projectionSize
    }

    public var directions: Int { bidirectional ? 2 : 1 }

    /// The width of a layer's hidden state and of each direction's output:
    /// `projectionSize` where the model has projections, else `hiddenSize`.
    public var stateSize: Int { projectionSize > 0 ? projectionSize : hiddenSize }

    /// Checks sizes; every model goes through this before allocating.
    public func validate() throws(ModelError) {
        func positive(_ value: Int, _ name: String) throws(ModelError) {
            guard value > 0 else { throw .invalidConfiguration("\(name) must be positive, got \(value)") }
        }
        try positive(hiddenSize, "hidden_size")
        try positive(layers, "num_layers")
        try positive(outputSize, "output_size")
        switch input {
        case .dense(let features): try positive(features, "input_size")
        case .embedding(let vocabularySize, let dimension):
            try positive(vocabularySize, "vocab_size")
            try positive(dimension, "embedding_dim")
        case .oneHot(let vocabularySize): try positive(vocabularySize, "vocab_size")
        }
        // Bounds first, so that no product of sizes below can overflow.
        let limit = 1 << 24
        guard hiddenSize <= limit, input.rnnInputSize <= limit, (vocabularySize ?? 0) <= limit, outputSize <= limit,
            layers <= 1024
        else {
            throw .invalidConfiguration(
                "a size is beyond what RNNKit supports (hidden \(hiddenSize), input \(input.rnnInputSize), "
                    + "vocabulary \(vocabularySize ?? 0), output \(outputSize), layers \(layers))"
            )
        }
        guard projectionSize >= 0, projectionSize < hiddenSize else {
            throw .invalidConfiguration(
                "proj_size must be at least 0 and below hidden_size (\(hiddenSize)), got \(projectionSize)")
        }
        if projectionSize > 0, !cell.cell.supportsProjection {
            throw .invalidConfiguration("proj_size applies to lstm only (as in PyTorch), not to \(cell.rawValue)")
        }
        let parameters = estimatedParameterCount
        guard parameters <= Double(ModelConfiguration.maximumParameterCount) else {
            throw .tooLarge(String(format: "%.3g parameters exceed RNNKit's limit of 2^31", parameters))
        }
        if head == .identity, outputSize != stateSize * directions {
            throw .invalidConfiguration(
                "a model without a head outputs its top layer's \(stateSize * directions) features (directions x "
                    + "\(projectionSize > 0 ? "proj_size" : "hidden_size")), but output_size is \(outputSize)"
            )
        }
        if topology == .oneToMany {
            guard case .dense(let features) = input, features == outputSize else {
                throw .invalidConfiguration(
                    "one_to_many feeds outputs back as inputs: it needs dense input with input_size == output_size")
            }
        }
        if !bias, cell == .layerNormLSTM {
            throw .invalidConfiguration(
                "lstm_ln has no bias_ih or bias_hh to leave out: the biases of its layer norms take their place")
        }
        guard dropout >= 0, dropout < 1 else {
            throw .invalidConfiguration("dropout must be at least 0 and below 1, got \(dropout)")
        }
        if topology == .encoderDecoder, input.readsTokens {
            throw .invalidConfiguration("encoder_decoder models read dense feature inputs")
        }
        if !vocabulary.isEmpty {
            guard vocabulary.count == vocabularySize else {
                throw .invalidConfiguration(
                    "vocabulary has \(vocabulary.count) characters but the model reads "
                        + "\(vocabularySize.map(String.init) ?? "dense") tokens"
                )
            }
        }
    }

    /// The most parameters a model may have: float offsets stay within 32 bits.
    static let maximumParameterCount = 1 << 31

    /// The parameter count, in floating point so that it cannot overflow on
    /// any sizes (`validate` bounds the exact count by this).
    private var estimatedParameterCount: Double {
        let gates = Double(cell.gateCount), hidden = Double(hiddenSize), directions = Double(directions)
        let state = Double(stateSize), projection = Double(projectionSize) * hidden
        func stack(input: Double) -> Double {
            let biases: Double = bias ? 2 : 0
            let first = gates * hidden * (input + state + biases) + projection
            let upper = gates * hidden * (state * directions + state + biases) + projection
            return directions * (first + Double(layers - 1) * upper)
        }
        var count = stack(input: Double(input.rnnInputSize))
        if topology == .encoderDecoder { count *= 2 }
        if head == .linear { count += Double(outputSize) * (state * directions + 1) }
        if case .embedding(let vocabularySize, let dimension) = input {
            count += Double(vocabularySize) * Double(dimension)
        }
        return count
    }

    /// The token vocabulary size, or nil for dense input.
    public var vocabularySize: Int? {
        switch input {
        case .dense: nil
        case .embedding(let vocabularySize, _), .oneHot(let vocabularySize): vocabularySize
        }
    }
}
