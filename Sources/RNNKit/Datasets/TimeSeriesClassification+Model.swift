import Foundation

// Reading a UCR/UEA `.ts` set for a model, the same way for training,
// evaluation and prediction: classes numbered as the model numbers them, every dimension
// scaled with the mean and deviation fitted on the training part.

extension TimeSeriesClassificationSet {
    /// Each dimension's mean and deviation over the valid steps of `rows`
    /// only, so that no validation or test case shapes the scaling.
    public func fitScaling(rows: [Int]) throws -> FeatureScaling {
        var sums = [Double](repeating: 0, count: dimensions), squares = sums
        var counts = [Int](repeating: 0, count: dimensions)
        for row in rows {
            let base = row * maxLength * dimensions
            for position in base..<(base + Int(lengths[row]) * dimensions) {
                sums[position % dimensions] += Double(values[position])
                counts[position % dimensions] += 1
            }
        }
        let means = (0..<dimensions).map { counts[$0] > 0 ? sums[$0] / Double(counts[$0]) : 0 }
        for row in rows {
            let base = row * maxLength * dimensions
            for position in base..<(base + Int(lengths[row]) * dimensions) {
                let difference = Double(values[position]) - means[position % dimensions]
                squares[position % dimensions] += difference * difference
            }
        }
        let deviations = (0..<dimensions).map { dimension -> Float in
            let deviation = Float((squares[dimension] / Double(max(counts[dimension], 1))).squareRoot())
            // A constant dimension stays unscaled rather than divided by zero.
            return deviation > 1e-12 && deviation.isFinite ? deviation : 1
        }
        return try FeatureScaling(mean: means.map { Float($0) }, deviation: deviations)
    }

    /// The test file beside a training file: `X_TEST.ts` for `X_TRAIN.ts`,
    /// if it exists.
    public static func testFile(besides url: URL) -> URL? {
        let name = url.lastPathComponent
        guard let range = name.range(of: "_TRAIN.", options: [.caseInsensitive, .backwards]) else { return nil }
        let spelled = name[range] == "_TRAIN." ? "_TEST." : "_test."
        let test = url.deletingLastPathComponent().appendingPathComponent(
            name.replacingCharacters(in: range, with: spelled))
        return FileManager.default.fileExists(atPath: test.path) ? test : nil
    }

    /// Reads a `.ts` file for `model`, numbering classes as the model file
    /// records (see `DataMetadata`); `modelBatch(for:metadata:)` prepares it.
    public static func read(_ url: URL, for model: Model, metadata: DataMetadata) throws -> TimeSeriesClassificationSet
    {
        if let kind = metadata.kind, kind != .timeSeriesClassification {
            throw ModelError.metadata(
                key: DataMetadata.Key.kind, problem: "is '\(kind.rawValue)': this model cannot classify a .ts set",
                source: metadata.source)
        }
        let set = try TimeSeriesClassificationSet(
            contentsOf: url, classNames: try metadata.strings(DataMetadata.Key.classNames))
        let c = model.configuration
        guard c.topology == .manyToOne, case .dense = c.input else {
            throw ModelError.inputMismatch(
                "\(metadata.source) is a \(c.topology.rawValue) model on "
                    + "\(c.input.readsTokens ? "tokens" : "features"); a .ts set needs a many_to_one model on features"
            )
        }
        guard set.classNames.count <= c.outputSize else {
            throw ModelError.inputMismatch(
                "\(url.lastPathComponent) has \(set.classNames.count) classes, the model only \(c.outputSize)")
        }
        return set
    }

    /// The set as `model` reads it: scaled and patched as its file records.
    public func modelBatch(for model: Model, metadata: DataMetadata) throws -> SequenceBatch {
        let patch = try metadata.integer(DataMetadata.Key.patch) ?? 1
        let features = model.configuration.input.rnnInputSize
        guard features == dimensions * patch else {
            let reading = patch > 1 ? " (\(patch) steps of \(features / patch) at a time)" : ""
            throw ModelError.inputMismatch(
                "the model reads \(features) features per step\(reading), "
                    + "\(URL(fileURLWithPath: source).lastPathComponent) has \(dimensions) "
                    + "dimension\(dimensions == 1 ? "" : "s")"
            )
        }
        return try modelBatch(scaling: try metadata.scaling, patch: patch)
    }

    /// All cases as one batch, scaled, and read `patch` steps at a time.
    public func modelBatch(scaling: FeatureScaling?, patch: Int) throws -> SequenceBatch {
        try (scaling.map { try normalized(using: $0) } ?? self).batch().patched(patch, features: dimensions)
    }

    /// The class names a model's outputs stand for: the set's, padded with
    /// the output indices if the model has more outputs than the set classes.
    public func outputNames(for model: Model) -> [String] {
        classNames + (classNames.count..<max(classNames.count, model.configuration.outputSize)).map(String.init)
    }
}

extension SequenceBatch {
    /// The sequences `rows` of a batch of float features, as a batch of their own.
    public func subset(_ rows: [Int], features: Int) -> SequenceBatch {
        guard case .features(let values) = inputs else { preconditionFailure("subset of a token batch") }
        let stride = timeSteps * features
        var selected: [Float] = []
        selected.reserveCapacity(rows.count * stride)
        for row in rows { selected += values[(row * stride)..<((row + 1) * stride)] }
        var targetSubset: Targets?
        if case .classes(let labels) = targets { targetSubset = .classes(rows.map { labels[$0] }) }
        return SequenceBatch(
            count: rows.count, timeSteps: timeSteps, inputs: .features(selected),
            lengths: lengths.map { lengths in rows.map { lengths[$0] } }, targets: targetSubset)
    }
}

extension Model {
    /// Loss, accuracy and confusion of a many-to-one classifier on `batch`.
    public func classificationScores(_ batch: SequenceBatch, classNames: [String], threads: Int?) throws
        -> ClassificationScores
    {
        guard case .classes(let labels) = batch.targets else { preconditionFailure("scoring needs class targets") }
        var unlabelled = batch
        unlabelled.targets = nil
        let logits = try outputs(for: unlabelled, threads: threads)
        let width = configuration.outputSize
        var scores = ClassificationScores(classNames: classNames)
        for (row, label) in labels.enumerated() {
            scores.add(logits: logits[(row * width)..<((row + 1) * width)], label: Int(label))
        }
        return scores
    }
}

extension SequenceBatch {
    /// The batch read `patch` steps at a time: `[N, ceil(T / patch), patch * D]`,
    /// step `s` holding steps `s * patch ..< (s + 1) * patch`, one after the
    /// other. A sequence's last, partial patch repeats its last valid step.
    public func patched(_ patch: Int, features: Int) -> SequenceBatch {
        guard patch > 1, case .features(let values) = inputs else { return self }
        let steps = (timeSteps + patch - 1) / patch
        let width = patch * features
        var patchedValues = [Float](repeating: 0, count: count * steps * width)
        var patchedLengths: [Int32] = []
        for row in 0..<count {
            let length = lengths.map { Int($0[row]) } ?? timeSteps
            let patchedLength = (length + patch - 1) / patch
            patchedLengths.append(Int32(patchedLength))
            for step in 0..<patchedLength {
                for offset in 0..<patch {
                    let source = min(step * patch + offset, length - 1)
                    for feature in 0..<features {
                        patchedValues[(row * steps + step) * width + offset * features + feature] =
                            values[(row * timeSteps + source) * features + feature]
                    }
                }
            }
        }
        let equal = patchedLengths.allSatisfy { Int($0) == steps }
        return SequenceBatch(
            count: count, timeSteps: steps, inputs: .features(patchedValues), lengths: equal ? nil : patchedLengths,
            targets: targets)
    }
}
