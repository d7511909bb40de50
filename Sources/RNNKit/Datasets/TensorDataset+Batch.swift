extension TensorDataset {
    /// The whole data set as one batch (select mini-batches with `Trainer.step(_:rows:)`).
    public var batch: SequenceBatch {
        var batch = sequences.batch
        switch targets {
        case .sequences(let values, _), .vectors(let values, _): batch.targets = .values(values)
        case .classes(let labels), .sequenceClasses(let labels): batch.targets = .classes(labels)
        }
        return batch
    }

    /// Per-step targets train a many-to-many model, per-sequence ones many-to-one.
    public var topology: Topology {
        switch targets {
        case .sequences, .sequenceClasses: .manyToMany
        case .vectors, .classes: .manyToOne
        }
    }

    /// The output width a model needs: the target features, or the number of
    /// classes (the largest label at a valid position, plus one).
    public var outputSize: Int {
        switch targets {
        case .sequences(_, let features), .vectors(_, let features): return features
        case .classes(let labels): return Int(labels.max() ?? 0) + 1
        case .sequenceClasses(let labels):
            var largest: Int32 = 0
            for row in 0..<count {
                let length = lengths.map { Int($0[row]) } ?? timeSteps
                for step in 0..<length { largest = max(largest, labels[row * timeSteps + step]) }
            }
            return Int(largest) + 1
        }
    }

    /// Checks that `configuration` can train on or predict this data, with a
    /// message that says what differs.
    public func check(fits c: ModelConfiguration) throws(ModelError) {
        try sequences.checkInputs(of: c)
        let perStep = c.topology.outputsPerStep
        guard perStep == (topology == .manyToMany), c.topology != .oneToMany, c.topology != .encoderDecoder else {
            throw .inputMismatch(
                "the model is \(c.topology.rawValue) but the data's targets are "
                    + "\(topology == .manyToMany ? "per step" : "per sequence")"
            )
        }
        switch targets {
        case .sequences(_, let width), .vectors(_, let width):
            guard width == c.outputSize else {
                throw .inputMismatch("the model has \(c.outputSize) outputs, the targets have \(width) features")
            }
        case .classes, .sequenceClasses:
            guard outputSize <= c.outputSize else {
                throw .inputMismatch(
                    "the data has class labels up to \(outputSize - 1), the model only \(c.outputSize) classes")
            }
        }
    }
}

extension TensorDataset.Inputs {
    /// The inputs as one batch without targets, for `Model.outputs(for:)`.
    public var batch: SequenceBatch {
        SequenceBatch(count: count, timeSteps: timeSteps, inputs: .features(inputs), lengths: lengths)
    }

    /// Checks that a model with `configuration` can predict from these
    /// inputs: one output per step or per sequence, read from float features.
    public func check(fits c: ModelConfiguration) throws(ModelError) {
        try checkInputs(of: c)
        guard c.topology != .oneToMany, c.topology != .encoderDecoder else {
            throw .inputMismatch(
                "the model is \(c.topology.rawValue); predicting from a data set of input sequences "
                    + "needs a many_to_many, many_to_one or one_to_one model")
        }
    }

    /// Checks what a model reads against these float inputs, whatever its outputs.
    fileprivate func checkInputs(of c: ModelConfiguration) throws(ModelError) {
        guard case .dense(let features) = c.input else {
            throw .inputMismatch("the model reads tokens but the data set holds float inputs")
        }
        guard features == inputSize else {
            throw .inputMismatch("the model reads \(features) input features per step, the data has \(inputSize)")
        }
        if c.topology == .oneToOne, timeSteps != 1 {
            throw .inputMismatch("a one_to_one model reads one step, the data has \(timeSteps)")
        }
    }
}
