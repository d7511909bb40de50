import RNNKernels
import RNNKit

/// One benchmark workload: a single-direction stack of recurrent layers
/// trained many-to-many on dense inputs `[batch, seq, input]`.
///
/// Spelled `CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS` on the command line, as in
/// the PyTorch anchor (`../shared/anchors/pytorch_rnn_bench.py`), with an
/// optional `:DROPOUT` between the layers (PyTorch's `dropout=`).
struct BenchShape: Equatable, Sendable {
    var cell: CellKind
    var batch: Int
    var timeSteps: Int
    var inputSize: Int
    var hiddenSize: Int
    var layers: Int
    var dropout: Float = 0

    /// The cell as the anchor names it: `rnn` is the tanh RNN.
    var cellName: String { cell == .rnnTanh ? "rnn" : cell.rawValue }

    /// The canonical `CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS[:DROPOUT]` spelling.
    var name: String {
        "\(cellName):\(batch):\(timeSteps):\(inputSize):\(hiddenSize):\(layers)" + (dropout > 0 ? ":\(dropout)" : "")
    }

    /// The model RNNKit trains: the recurrent stack without a head, its MSE
    /// on the top layer's output, as the anchor's on its bare PyTorch module.
    var configuration: ModelConfiguration {
        ModelConfiguration(
            cell: cell, input: .dense(features: inputSize), hiddenSize: hiddenSize,
            layers: layers, outputSize: hiddenSize, topology: .manyToMany, head: .identity, dropout: dropout)
    }

    // MARK: FLOPs

    /// Forward matmul FLOPs of the recurrent layers: Σ_layers 2·B·T·G·H·(in + H).
    var forwardFlops: Double {
        (0..<layers).reduce(0) { total, layer in
            total + productFlops(depth: (layer == 0 ? inputSize : hiddenSize) + hiddenSize)
        }
    }

    /// FLOPs of one layer's products with `depth` columns of input over the
    /// whole batch and sequence: 2·B·T·G·H·depth.
    private func productFlops(depth: Int) -> Double {
        2 * Double(batch) * Double(timeSteps) * Double(cell.gateCount) * Double(hiddenSize) * Double(depth)
    }

    /// FLOPs credited to a training step: 3 × forward (backward ≈ 2 × forward),
    /// the anchor's count.
    var trainingFlops: Double { 3 * forwardFlops }

    /// FLOPs a training step executes: the anchor's count less the first
    /// layer's input gradient (2·B·T·G·H·in), which nothing asks for and
    /// RNNKit does not compute. A rate of these above the FMA peak is impossible.
    var executedTrainingFlops: Double { trainingFlops - productFlops(depth: inputSize) }

    /// FLOPs credited to a forward-only pass.
    var inferenceFlops: Double { forwardFlops }
}

// MARK: - Sets

extension BenchShape {
    static let small = (batch: 64, timeSteps: 50, inputSize: 32, hiddenSize: 64, layers: 1)
    static let medium = (batch: 64, timeSteps: 100, inputSize: 128, hiddenSize: 256, layers: 1)
    static let large = (batch: 128, timeSteps: 50, inputSize: 512, hiddenSize: 512, layers: 1)
    static let twoLayer = (batch: 64, timeSteps: 100, inputSize: 128, hiddenSize: 256, layers: 2)

    init(_ cell: CellKind, _ size: (batch: Int, timeSteps: Int, inputSize: Int, hiddenSize: Int, layers: Int)) {
        self.init(
            cell: cell, batch: size.batch, timeSteps: size.timeSteps, inputSize: size.inputSize,
            hiddenSize: size.hiddenSize, layers: size.layers)
    }

    /// The anchors README's table, in its order.
    static let defaultSet: [BenchShape] = [
        BenchShape(.rnnTanh, small), BenchShape(.lstm, small), BenchShape(.gru, small),
        BenchShape(.lstm, medium), BenchShape(.gru, medium), BenchShape(.rnnTanh, medium),
        BenchShape(.lstm, large),
        BenchShape(.lstm, twoLayer)
    ]

    /// `--kernels` without `--shape`: each cell at every hidden size the build
    /// generated kernels for, on a short sequence so that the large sizes
    /// take seconds, not minutes.
    static var specializedSet: [BenchShape] {
        KernelSelection.specializedHiddenSizes.flatMap { hidden in
            [CellKind.lstm, .gru, .rnnTanh].map {
                BenchShape(cell: $0, batch: 64, timeSteps: 25, inputSize: 64, hiddenSize: hidden, layers: 1)
            }
        }
    }

    /// `--scaling` without `--shape`: LSTM at medium, large and small.
    static let scalingSet: [BenchShape] = [
        BenchShape(.lstm, medium), BenchShape(.lstm, large), BenchShape(.lstm, small)
    ]
}

// MARK: - Parsing

/// A `--shape` argument that does not read as `CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS`.
enum ShapeSyntaxError: Error, CustomStringConvertible, Equatable {
    case fieldCount(spec: String, found: Int)
    case unknownCell(spec: String, cell: String)
    case notPositive(spec: String, field: String, value: String)
    case notProbability(spec: String, value: String)
    case tooLarge(spec: String, detail: String)

    var description: String {
        let expected = "expected CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS[:DROPOUT], e.g. lstm:64:100:128:256:1"
        switch self {
        case .fieldCount(let spec, let found):
            return "invalid --shape '\(spec)': \(found) field\(found == 1 ? "" : "s"), \(expected)"
        case .unknownCell(let spec, let cell):
            return
                "invalid --shape '\(spec)': unknown cell '\(cell)', expected one of "
                + "\(BenchShape.cellNames.joined(separator: ", "))"
        case .notPositive(let spec, let field, let value):
            return "invalid --shape '\(spec)': \(field) '\(value)' is not a positive integer; \(expected)"
        case .notProbability(let spec, let value):
            return "invalid --shape '\(spec)': DROPOUT '\(value)' is not a probability in [0, 1)"
        case .tooLarge(let spec, let detail):
            return "invalid --shape '\(spec)': \(detail)"
        }
    }
}

extension BenchShape {
    static let cellNames = ["rnn"] + CellKind.allCases.map(\.rawValue)

    static func cell(named name: String) -> CellKind? {
        name.lowercased() == "rnn" ? .rnnTanh : CellKind(rawValue: name.lowercased())
    }

    /// Reads `CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS[:DROPOUT]`.
    init(parsing spec: String) throws(ShapeSyntaxError) {
        let fields = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 6 || fields.count == 7 else { throw .fieldCount(spec: spec, found: fields.count) }
        guard let cell = Self.cell(named: fields[0]) else { throw .unknownCell(spec: spec, cell: fields[0]) }
        let names = ["BATCH", "SEQ", "INPUT", "HIDDEN", "LAYERS"]
        var sizes: [Int] = []
        for (name, field) in zip(names, fields.dropFirst().prefix(5)) {
            guard let value = Int(field), value > 0 else { throw .notPositive(spec: spec, field: name, value: field) }
            sizes.append(value)
        }
        self.init(
            cell: cell, batch: sizes[0], timeSteps: sizes[1], inputSize: sizes[2],
            hiddenSize: sizes[3], layers: sizes[4])
        if fields.count == 7 {
            guard let dropout = Float(fields[6]), dropout >= 0, dropout < 1 else {
                throw .notProbability(spec: spec, value: fields[6])
            }
            self.dropout = dropout
        }
        // The bench holds inputs and targets as plain arrays; refuse what cannot be meant
        // before allocating (RNNKit itself refuses models and buffers beyond memory).
        let width = max(inputSize, hiddenSize * cell.gateCount)
        let (positions, overflow1) = batch.multipliedReportingOverflow(by: timeSteps)
        let (floats, overflow2) = positions.multipliedReportingOverflow(by: width)
        guard !overflow1, !overflow2, floats <= 1 << 31, layers <= 1024 else {
            throw .tooLarge(
                spec: spec,
                detail: "BATCH x SEQ x max(INPUT, gates x HIDDEN) must stay within 2^31 floats and LAYERS within 1024")
        }
    }
}
