import Foundation
import RNNKit
import RNNKitCHeader

// rnnkit.h's "Batches" and "Inference" sections.

extension SequenceBatch {
    /// The caller's batch, copied; the model's checks then say what does not fit.
    init(_ pointer: UnsafePointer<rnnkit_batch>?, _ name: String) throws {
        let b = try required(pointer, name)
        let count = try RNNKitC.count(b.count, "\(name).count", in: 1...SequenceBatch.maximumCount)
        let timeSteps = try RNNKitC.count(b.time_steps, "\(name).time_steps", in: 1...SequenceBatch.maximumTimeSteps)
        let features = try copied(b.features, count: b.features_count, "\(name).features")
        let tokens = try copied(b.tokens, count: b.tokens_count, "\(name).tokens")
        let inputs: Inputs
        switch (features, tokens) {
        case (let features?, nil): inputs = .features(features)
        case (nil, let tokens?): inputs = .tokens(tokens)
        case (nil, nil): throw InterfaceError.null("\(name).features and \(name).tokens")
        case (_?, _?): throw InterfaceError.invalid("\(name) has both features and tokens; set one")
        }
        let values = try copied(b.target_values, count: b.target_values_count, "\(name).target_values")
        let classes = try copied(b.target_classes, count: b.target_classes_count, "\(name).target_classes")
        let targets: Targets?
        switch (values, classes) {
        case (let values?, nil): targets = .values(values)
        case (nil, let classes?): targets = .classes(classes)
        case (nil, nil): targets = nil
        case (_?, _?): throw InterfaceError.invalid("\(name) has both target values and target classes; set one")
        }
        self.init(
            count: count, timeSteps: timeSteps, inputs: inputs,
            lengths: try copied(b.lengths, count: b.lengths == nil ? 0 : Int64(count), "\(name).lengths"),
            decoderInputs: try copied(b.decoder_inputs, count: b.decoder_inputs_count, "\(name).decoder_inputs"),
            decoderTimeSteps: try RNNKitC.count(
                b.decoder_time_steps, "\(name).decoder_time_steps", in: 0...SequenceBatch.maximumTimeSteps),
            targets: targets)
    }
}

/// What `rnnkit_model_predict` writes for a batch of these sizes.
private func outputCounts(of c: ModelConfiguration, count: Int, timeSteps: Int, decoderTimeSteps: Int) throws -> (
    outputs: Int, hidden: Int, cell: Int
) {
    let steps: Int =
        switch c.topology {
        case .manyToMany, .oneToMany: timeSteps
        case .encoderDecoder: decoderTimeSteps
        case .manyToOne, .oneToOne: 1
        }
    guard let outputs = _checkedProduct(count, steps, c.outputSize),
        let hidden = _checkedProduct(count, c.layers * c.directions, c.stateSize),
        let cell = _checkedProduct(count, c.layers * c.directions, c.hiddenSize)
    else { throw InterfaceError.mismatch("\(count) sequences of \(steps) steps overflow the output's size") }
    return (outputs, hidden, c.cell.hasCellState ? cell : 0)
}

@c(rnnkit_model_output_counts)
public func modelOutputCounts(
    _ model: OpaquePointer?, _ count: Int64, _ timeSteps: Int64, _ decoderTimeSteps: Int64,
    _ outputs: UnsafeMutablePointer<Int64>?, _ hidden: UnsafeMutablePointer<Int64>?,
    _ cell: UnsafeMutablePointer<Int64>?
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        guard let outputs else { throw InterfaceError.null("outputs") }
        guard let hidden else { throw InterfaceError.null("hidden") }
        guard let cell else { throw InterfaceError.null("cell") }
        let counts = try outputCounts(
            of: model.configuration, count: try RNNKitC.count(count, "count", in: 0...SequenceBatch.maximumCount),
            timeSteps: try RNNKitC.count(timeSteps, "time_steps", in: 0...SequenceBatch.maximumTimeSteps),
            decoderTimeSteps: try RNNKitC.count(
                decoderTimeSteps, "decoder_time_steps", in: 0...SequenceBatch.maximumTimeSteps))
        outputs.pointee = Int64(counts.outputs)
        hidden.pointee = Int64(counts.hidden)
        cell.pointee = Int64(counts.cell)
    }
}

/// Threads as the caller gave them: 0 for all cores.
func threads(_ value: Int32) throws -> Int? {
    guard value >= 0, Int(value) <= Trainer.maximumThreads else {
        throw InterfaceError.invalid("threads is \(value), expected 0 (all cores) to \(Trainer.maximumThreads)")
    }
    return value == 0 ? nil : Int(value)
}

@c(rnnkit_model_predict)
public func modelPredict(
    _ model: OpaquePointer?, _ batch: UnsafePointer<rnnkit_batch>?, _ threads: Int32,
    _ outputs: UnsafeMutablePointer<Float>?, _ outputsCount: Int64, _ hidden: UnsafeMutablePointer<Float>?,
    _ hiddenCount: Int64, _ cell: UnsafeMutablePointer<Float>?, _ cellCount: Int64
) -> rnnkit_status {
    withStatus {
        let handle = try object(model, "model", as: ModelHandle.self)
        let batch = try SequenceBatch(batch, "batch")
        let expected = try outputCounts(
            of: handle.model.configuration, count: batch.count, timeSteps: batch.timeSteps,
            decoderTimeSteps: batch.decoderTimeSteps)
        // Checked before the run, so that a wrong buffer costs nothing.
        guard outputsCount == Int64(expected.outputs) else {
            throw InterfaceError.mismatch(
                "outputs holds \(outputsCount) floats, the batch's outputs \(expected.outputs)")
        }
        let wantsState = hidden != nil || hiddenCount != 0 || cell != nil || cellCount != 0
        if wantsState {
            guard hiddenCount == Int64(expected.hidden), cellCount == Int64(expected.cell) else {
                throw InterfaceError.mismatch(
                    "hidden and cell hold \(hiddenCount) and \(cellCount) floats, "
                        + "the final state \(expected.hidden) and \(expected.cell)")
            }
        }
        let result = try handle.predictor(threads: try RNNKitC.threads(threads)).run(batch)
        try store(result.outputs, into: outputs, count: outputsCount, "outputs")
        if wantsState {
            try store(result.finalState.hidden, into: hidden, count: hiddenCount, "hidden")
            try store(result.finalState.cell ?? [], into: cell, count: cellCount, "cell")
        }
    }
}

@c(rnnkit_model_sample_text)
public func modelSampleText(
    _ model: OpaquePointer?, _ prime: UnsafePointer<CChar>?, _ length: Int64, _ temperature: Float, _ topK: Int32,
    _ seed: UInt64, _ text: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ needed: UnsafeMutablePointer<Int64>?
) -> rnnkit_status {
    withStatus {
        let model = try object(model, "model", as: ModelHandle.self).model
        guard let needed else { throw InterfaceError.null("needed") }
        guard topK >= 0 else { throw InterfaceError.invalid("top_k is \(topK), expected 0 (all) or more") }
        let sample = try model.sampleText(
            prime: try string(prime, "prime"), length: try count(length, "length", in: 0...(1 << 30)),
            temperature: temperature, topK: topK == 0 ? nil : Int(topK), seed: seed)
        let bytes = Array(sample.utf8) + [0]
        needed.pointee = Int64(bytes.count)
        guard capacity >= Int64(bytes.count) else {
            throw InterfaceError(
                status: rnnkit_status(RNNKIT_ERROR_BUFFER_TOO_SMALL),
                message: "text holds \(capacity) bytes, the sample needs \(bytes.count)")
        }
        guard let text else { throw InterfaceError.null("text") }
        bytes.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(text).copyMemory(from: source.baseAddress!, byteCount: bytes.count)
        }
    }
}
