import Foundation

/// A supervised sequence data set held in memory: `count` sequences of
/// `timeSteps` steps with `inputSize` features each, and their targets.
///
/// On disk it is a safetensors file with these tensors, and no others:
///
/// | name      | dtype              | shape       | meaning                                  |
/// |-----------|--------------------|-------------|------------------------------------------|
/// | `inputs`  | F32                | `[N, T, I]` | the input sequences                      |
/// | `targets` | F32                | `[N, T, O]` | per-step regression (many-to-many)       |
/// |           | F32                | `[N, O]`    | per-sequence regression (many-to-one)    |
/// |           | I64 or I32         | `[N]`       | per-sequence class labels                |
/// |           | I64 or I32         | `[N, T]`    | per-step class labels                    |
/// | `lengths` | I64 or I32         | `[N]`       | optional: valid steps of each sequence   |
///
/// Reading also accepts F64, F16 and BF16 for float tensors (NumPy saves
/// float64 by default) and any integer type for labels and lengths; writing
/// uses F32 and I64, the types PyTorch's losses and `pack_padded_sequence` take.
///
/// Sequence `n` is valid for steps `0..<lengths[n]` (all `T` steps without
/// `lengths`). Class labels at valid steps must be non-negative; labels at
/// padded steps may be anything, such as PyTorch's `ignore_index` -100. Every
/// float, padding included, must be finite, so that masked-out padding cannot
/// turn a batched product into NaN.
///
/// ```swift
/// let data = try TensorDataset(contentsOf: URL(fileURLWithPath: "train.safetensors"))
/// print(data.count, data.timeSteps, data.inputSize)
/// ```
public struct TensorDataset: Sendable, Equatable {
    /// What the model should predict, in one of four layouts.
    public enum Targets: Sendable, Equatable {
        /// Per-step regression targets, F32 `[N, T, features]` row-major.
        case sequences([Float], features: Int)
        /// Per-sequence regression targets, F32 `[N, features]` row-major.
        case vectors([Float], features: Int)
        /// One class label per sequence, `[N]`.
        case classes([Int32])
        /// One class label per step, `[N, T]` row-major.
        case sequenceClasses([Int32])
    }

    /// The input sequences and their lengths.
    public let sequences: Inputs
    /// What to predict.
    public let targets: Targets

    /// The number of sequences, N.
    public var count: Int { sequences.count }
    /// The number of steps of every (padded) sequence, T.
    public var timeSteps: Int { sequences.timeSteps }
    /// The number of features of each step, I.
    public var inputSize: Int { sequences.inputSize }
    /// The input sequences, `[N, T, I]` row-major.
    public var inputs: [Float] { sequences.inputs }
    /// The number of valid steps of each sequence, each in `1...timeSteps`,
    /// or `nil` if every sequence uses all `timeSteps` steps.
    public var lengths: [Int32]? { sequences.lengths }

    /// Creates a data set from arrays, validating them as a file would be.
    ///
    /// - Parameters:
    ///   - inputs: `[count, timeSteps, inputSize]` row-major, all finite.
    ///   - count: N, at least 1.
    ///   - timeSteps: T, at least 1.
    ///   - inputSize: I, at least 1.
    ///   - targets: Targets whose sizes match `count` and `timeSteps`.
    ///   - lengths: Optional valid step counts, each in `1...timeSteps`.
    /// - Throws: ``DatasetError`` naming the first inconsistency.
    public init(
        inputs: [Float], count: Int, timeSteps: Int, inputSize: Int, targets: Targets, lengths: [Int32]? = nil
    ) throws {
        let source = "<memory>"
        try self.init(
            Inputs(
                inputs: inputs, count: count, timeSteps: timeSteps, inputSize: inputSize, lengths: lengths,
                source: source),
            targets: targets, source: source)
    }

    /// Reads a data set from a safetensors file.
    ///
    /// - Throws: ``SafetensorsError`` if the file cannot be read or is not
    ///   valid safetensors; ``DatasetError`` if its tensors are not a data set.
    public init(contentsOf url: URL) throws {
        try self.init(file: try SafetensorsFile(contentsOf: url))
    }

    /// Interprets the tensors of a safetensors file as a data set.
    ///
    /// - Parameters:
    ///   - file: The file's tensors.
    ///   - source: What errors call the file; `file.source` if `nil`.
    /// - Throws: ``DatasetError`` naming the first problem.
    public init(file: SafetensorsFile, source: String? = nil) throws {
        let source = source ?? file.source
        let sequences = try Inputs(file: file, source: source)
        let (count, timeSteps) = (sequences.count, sequences.timeSteps)
        guard let targetsTensor = file.tensors["targets"] else {
            throw DatasetError.missingTensor(source: source, tensor: "targets")
        }
        let shape = targetsTensor.shape
        let targets: Targets
        if targetsTensor.dtype.isFloatingPoint {
            let values = try Self.floats(targetsTensor, name: "targets", source: source)
            switch shape.count {
            case 3:
                try Self.checkCount(targetsTensor, "targets", count, source)
                try Self.checkTimeSteps(targetsTensor, "targets", timeSteps, source)
                targets = .sequences(values, features: shape[2])
            case 2:
                try Self.checkCount(targetsTensor, "targets", count, source)
                targets = .vectors(values, features: shape[1])
            default:
                throw DatasetError.wrongRank(
                    source: source, tensor: "targets", shape: shape, expected: "[N, T, O] or [N, O] for float targets")
            }
        } else {
            let values = try Self.integers(targetsTensor, name: "targets", source: source)
            guard shape.count == 1 || shape.count == 2 else {
                throw DatasetError.wrongRank(
                    source: source, tensor: "targets", shape: shape, expected: "[N] or [N, T] for class labels")
            }
            try Self.checkCount(targetsTensor, "targets", count, source)
            if shape.count == 2 { try Self.checkTimeSteps(targetsTensor, "targets", timeSteps, source) }
            let labels = try values.enumerated().map { index, value in
                guard let label = Int32(exactly: value) else {
                    throw DatasetError.labelOutOfRange(
                        source: source, tensor: "targets", position: _position(of: index, in: shape), value: value)
                }
                return label
            }
            targets = shape.count == 1 ? .classes(labels) : .sequenceClasses(labels)
        }

        try self.init(sequences, targets: targets, source: source)
    }

    /// The one initializer that stores; every other one funnels through it.
    /// `sequences` are valid already; the targets are checked against them.
    private init(_ sequences: Inputs, targets: Targets, source: String) throws {
        let (count, timeSteps, lengths) = (sequences.count, sequences.timeSteps, sequences.lengths)
        switch targets {
        case .sequences(let values, let features):
            let shape = [count, timeSteps, features]
            try Self.checkElements(values.count, shape: shape, tensor: "targets", source: source)
            try Self.checkFinite(values, shape: shape, tensor: "targets", source: source)
        case .vectors(let values, let features):
            let shape = [count, features]
            try Self.checkElements(values.count, shape: shape, tensor: "targets", source: source)
            try Self.checkFinite(values, shape: shape, tensor: "targets", source: source)
        case .classes(let labels):
            try Self.checkElements(labels.count, shape: [count], tensor: "targets", source: source)
            if let index = labels.firstIndex(where: { $0 < 0 }) {
                throw DatasetError.negativeLabel(
                    source: source, tensor: "targets", position: [index], value: Int(labels[index]))
            }
        case .sequenceClasses(let labels):
            try Self.checkElements(labels.count, shape: [count, timeSteps], tensor: "targets", source: source)
            for sequence in 0..<count {
                let validSteps = lengths.map { Int($0[sequence]) } ?? timeSteps
                for step in 0..<validSteps where labels[sequence * timeSteps + step] < 0 {
                    throw DatasetError.negativeLabel(
                        source: source, tensor: "targets", position: [sequence, step],
                        value: Int(labels[sequence * timeSteps + step]))
                }
            }
        }

        self.sequences = sequences
        self.targets = targets
    }

    // MARK: Writing

    /// The data set as safetensors tensors: `inputs` and float targets as
    /// F32, labels and `lengths` as I64.
    public var safetensorsFile: SafetensorsFile {
        var tensors = ["inputs": Tensor(floats: inputs, shape: [count, timeSteps, inputSize])]
        switch targets {
        case .sequences(let values, let features):
            tensors["targets"] = Tensor(floats: values, shape: [count, timeSteps, features])
        case .vectors(let values, let features):
            tensors["targets"] = Tensor(floats: values, shape: [count, features])
        case .classes(let labels):
            tensors["targets"] = Tensor(int64: labels.map(Int64.init), shape: [count])
        case .sequenceClasses(let labels):
            tensors["targets"] = Tensor(int64: labels.map(Int64.init), shape: [count, timeSteps])
        }
        if let lengths {
            tensors["lengths"] = Tensor(int64: lengths.map(Int64.init), shape: [count])
        }
        return SafetensorsFile(tensors: tensors)
    }

    /// Writes the data set to `url` as safetensors, atomically.
    ///
    /// - Throws: ``SafetensorsError/io(path:operation:code:)`` if writing fails.
    public func write(to url: URL) throws {
        try safetensorsFile.write(to: url)
    }
}

// MARK: - Inputs alone

extension TensorDataset {
    /// The `inputs` and `lengths` of a data set, without targets: what a
    /// model needs to predict. Read from a file, the `targets` tensor may be
    /// absent; when present it is not read.
    public struct Inputs: Sendable, Equatable {
        /// The number of sequences, N.
        public let count: Int
        /// The number of steps of every (padded) sequence, T.
        public let timeSteps: Int
        /// The number of features of each step, I.
        public let inputSize: Int
        /// The input sequences, `[N, T, I]` row-major, all finite.
        public let inputs: [Float]
        /// The number of valid steps of each sequence, each in `1...timeSteps`,
        /// or `nil` if every sequence uses all `timeSteps` steps.
        public let lengths: [Int32]?

        /// Reads the inputs of a data set file.
        ///
        /// - Throws: ``SafetensorsError`` if the file cannot be read or is not
        ///   valid safetensors; ``DatasetError`` if `inputs` or `lengths` are
        ///   missing, malformed or inconsistent.
        public init(contentsOf url: URL) throws {
            try self.init(file: try SafetensorsFile(contentsOf: url))
        }

        /// Interprets the `inputs` and `lengths` tensors of a file.
        ///
        /// - Parameter source: What errors call the file; `file.source` if `nil`.
        /// - Throws: ``DatasetError`` naming the first problem.
        public init(file: SafetensorsFile, source: String? = nil) throws {
            let source = source ?? file.source
            for name in file.tensors.keys.sorted() where !["inputs", "targets", "lengths"].contains(name) {
                throw DatasetError.unexpectedTensor(source: source, tensor: name)
            }
            guard let inputsTensor = file.tensors["inputs"] else {
                throw DatasetError.missingTensor(source: source, tensor: "inputs")
            }
            let inputs = try TensorDataset.floats(inputsTensor, name: "inputs", source: source)
            guard inputsTensor.shape.count == 3 else {
                throw DatasetError.wrongRank(
                    source: source, tensor: "inputs", shape: inputsTensor.shape, expected: "[N, T, I]")
            }
            let (count, timeSteps, inputSize) = (inputsTensor.shape[0], inputsTensor.shape[1], inputsTensor.shape[2])

            var lengths: [Int32]?
            if let lengthsTensor = file.tensors["lengths"] {
                let values = try TensorDataset.integers(lengthsTensor, name: "lengths", source: source)
                guard lengthsTensor.shape.count == 1 else {
                    throw DatasetError.wrongRank(
                        source: source, tensor: "lengths", shape: lengthsTensor.shape, expected: "[N]")
                }
                try TensorDataset.checkCount(lengthsTensor, "lengths", count, source)
                lengths = try values.enumerated().map { index, value in
                    guard value >= 1, value <= timeSteps, let length = Int32(exactly: value) else {
                        throw DatasetError.lengthOutOfRange(
                            source: source, index: index, value: value, timeSteps: timeSteps)
                    }
                    return length
                }
            }
            try self.init(
                inputs: inputs, count: count, timeSteps: timeSteps, inputSize: inputSize, lengths: lengths,
                source: source)
        }

        /// The one initializer that stores, validating sizes, values and lengths.
        init(inputs: [Float], count: Int, timeSteps: Int, inputSize: Int, lengths: [Int32]?, source: String) throws {
            let inputShape = [count, timeSteps, inputSize]
            try TensorDataset.checkElements(inputs.count, shape: inputShape, tensor: "inputs", source: source)
            try TensorDataset.checkFinite(inputs, shape: inputShape, tensor: "inputs", source: source)
            if let lengths {
                guard lengths.count == count else {
                    throw DatasetError.countMismatch(
                        source: source, tensor: "lengths", count: lengths.count, expected: count)
                }
                for (index, length) in lengths.enumerated() where length < 1 || Int(length) > timeSteps {
                    throw DatasetError.lengthOutOfRange(
                        source: source, index: index, value: Int(length), timeSteps: timeSteps)
                }
            }
            self.count = count
            self.timeSteps = timeSteps
            self.inputSize = inputSize
            self.inputs = inputs
            self.lengths = lengths
        }
    }
}

// MARK: - Validation

extension TensorDataset {
    fileprivate static func floats(_ tensor: Tensor, name: String, source: String) throws -> [Float] {
        guard tensor.dtype.isFloatingPoint else {
            throw DatasetError.wrongDType(
                source: source, tensor: name,
                expected: name == "targets" ? "F32 (regression) or I64/I32 (class labels)" : "F32", actual: tensor.dtype
            )
        }
        return try tensor.floats()
    }

    fileprivate static func integers(_ tensor: Tensor, name: String, source: String) throws -> [Int] {
        guard tensor.dtype.isInteger else {
            throw DatasetError.wrongDType(
                source: source, tensor: name,
                expected: name == "targets" ? "F32 (regression) or I64/I32 (class labels)" : "I64 or I32",
                actual: tensor.dtype)
        }
        return try tensor.integers()
    }

    fileprivate static func checkCount(_ tensor: Tensor, _ name: String, _ count: Int, _ source: String) throws {
        guard tensor.shape[0] == count else {
            throw DatasetError.countMismatch(source: source, tensor: name, count: tensor.shape[0], expected: count)
        }
    }

    private static func checkTimeSteps(_ tensor: Tensor, _ name: String, _ timeSteps: Int, _ source: String) throws {
        guard tensor.shape[1] == timeSteps else {
            throw DatasetError.timeStepsMismatch(
                source: source, tensor: name, timeSteps: tensor.shape[1], expected: timeSteps)
        }
    }

    /// Checks that `shape` has no empty dimension and holds `elements` values.
    fileprivate static func checkElements(_ elements: Int, shape: [Int], tensor: String, source: String) throws {
        guard shape.allSatisfy({ $0 >= 1 }) else {
            throw DatasetError.emptyDimension(source: source, tensor: tensor, shape: shape)
        }
        guard let expected = _checkedElementCount(shape) else {
            throw DatasetError.sizeOverflow(source: source, tensor: tensor, shape: shape)
        }
        guard elements == expected else {
            throw DatasetError.elementCountMismatch(
                source: source, tensor: tensor, shape: shape, expected: expected, actual: elements)
        }
    }

    fileprivate static func checkFinite(_ values: [Float], shape: [Int], tensor: String, source: String) throws {
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw DatasetError.nonFiniteTensorValue(
                source: source, tensor: tensor, position: _position(of: index, in: shape),
                value: values[index].description)
        }
    }
}

/// The row-major multi-index of flat `index` in a tensor of `shape`.
func _position(of index: Int, in shape: [Int]) -> [Int] {
    var remainder = index
    var position = [Int](repeating: 0, count: shape.count)
    for axis in shape.indices.reversed() where shape[axis] > 0 {
        position[axis] = remainder % shape[axis]
        remainder /= shape[axis]
    }
    return position
}
