import Foundation
import Testing
import RNNKernels
@testable import RNNKit

/// PyTorch references at real sizes (`Tests/Fixtures/make_scale_fixtures.py`):
/// hidden sizes that run the generated kernels and the vector tails, batches
/// of several shards on 1, 2 and 3 threads, every cell, a character model of
/// 256 units, clipping by value and truncated backpropagation through time.
enum ScaleGolden {
    static let directory = Golden.directory.deletingLastPathComponent().appendingPathComponent("golden-scale")

    static var caseNames: [String] {
        let manifest =
            (try? String(contentsOf: directory.appendingPathComponent("MANIFEST.txt"), encoding: .utf8)) ?? ""
        return manifest.split(separator: "\n").map(String.init).filter { $0.hasSuffix(".safetensors") }
    }

    /// How far RNNKit may be from the float64 reference, in the quantity's unit
    /// (its largest magnitude, or Adam's step size): a few times what PyTorch's
    /// own float32 result is off by, and never less than a small floor.
    static func tolerance(pytorchError: Double, adam: Bool) -> Double {
        max(8 * pytorchError, adam ? 2e-3 : 2e-5)
    }
}

/// The generator both sides draw parameters, inputs and targets from: word
/// `i` of `stream` is splitmix64(seed × golden ratio + FNV-1a(stream) + i).
struct CounterDraw {
    let seed: UInt64

    func words(_ stream: String, count: Int) -> [UInt64] {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in stream.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        let base = seed &* 0x9E37_79B9_7F4A_7C15 &+ hash
        return (0..<count).map { index in
            var z = base &+ UInt64(index)
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Multiples of 2^-23 in [-1, 1) times `scale` (a power of two): exact in Float.
    func uniform(_ stream: String, count: Int, scale: Float = 1) -> [Float] {
        words(stream, count: count).map { (Float(Int64($0 >> 40) - (1 << 23)) / Float(1 << 23)) * scale }
    }

    func integers(_ stream: String, count: Int, below bound: Int) -> [Int32] {
        words(stream, count: count).map { Int32($0 % UInt64(bound)) }
    }
}

/// One fixture: its model, its batch and the stored references.
struct ScaleCase {
    let file: SafetensorsFile
    let name: String
    let configuration: ModelConfiguration
    let draw: CounterDraw
    let batchSize, timeSteps, chunk, steps: Int

    init(_ name: String) throws {
        self.name = name
        let file = try SafetensorsFile(contentsOf: ScaleGolden.directory.appendingPathComponent(name))
        self.file = file
        let integer = { (key: String) throws -> Int in try #require(Int(file.metadata[key] ?? ""), "\(key)") }
        let features = try integer("input_size")
        let input: InputEncoding =
            switch file.metadata["input_kind"] {
            case "one_hot": .oneHot(vocabularySize: features)
            case "embedding": .embedding(vocabularySize: features, dimension: try integer("embedding_dim"))
            default: .dense(features: features)
            }
        configuration = ModelConfiguration(
            cell: try #require(CellKind(rawValue: file.metadata["cell"] ?? "")), input: input,
            hiddenSize: try integer("hidden_size"), layers: try integer("num_layers"),
            bidirectional: file.metadata["bidirectional"] == "true", outputSize: try integer("output_size"),
            topology: try #require(Topology(rawValue: file.metadata["topology"] ?? "")),
            projectionSize: Int(file.metadata["proj_size"] ?? "0") ?? -1)
        draw = CounterDraw(seed: UInt64(try integer("seed")))
        batchSize = try integer("batch_size")
        timeSteps = try integer("seq_len")
        chunk = try integer("chunk")
        steps = try integer("steps")
    }

    func number(_ key: String) throws -> Float {
        try #require(Float(file.metadata[key] ?? ""), "metadata \(key)")
    }

    var runs: [String] { (file.metadata["runs"] ?? "").split(separator: ",").map(String.init) }

    /// The model with the fixture's parameters.
    func model() throws -> Model {
        let model = try Model(configuration, seed: 0)
        let scale = try number("parameter_range")
        for name in model.parameterNames {
            let count = model.parameter(name)!.count
            if Self.isLayerNormGain(name) {
                // 1 + spread·u, formed in double and rounded once, as the script does.
                let spread = Double(try number("ln_gain_spread"))
                try model.setParameter(
                    name, to: draw.uniform(name, count: count).map { Float(1 + spread * Double($0)) })
            } else {
                try model.setParameter(
                    name, to: draw.uniform(name, count: count, scale: name.hasPrefix("embedding.") ? 1 : scale))
            }
        }
        return model
    }

    /// A layer-normalised LSTM's norm gain (`ln_ih_weight_l0`, ...), drawn around 1.
    static func isLayerNormGain(_ name: String) -> Bool {
        let base = name.split(separator: ".").last ?? ""
        return base.hasPrefix("ln_") && base.contains("_weight_l")
    }

    /// Steps `range` of the fixture's data (all of it by default), as make_data draws it.
    func batch(steps range: Range<Int>? = nil) throws -> SequenceBatch {
        let c = configuration
        let n = batchSize
        let encoderSteps = c.topology == .encoderDecoder ? Int(try number("encoder_seq_len")) : timeSteps
        let features = c.input.readsTokens ? 1 : c.input.rnnInputSize
        let outputs = c.outputSize
        let perStep = c.topology.outputsPerStep
        let inputs: SequenceBatch.Inputs =
            c.input.readsTokens
            ? .tokens(draw.integers("inputs", count: n * encoderSteps, below: c.vocabularySize!))
            : .features(draw.uniform("inputs", count: n * encoderSteps * features))
        let targets: SequenceBatch.Targets =
            file.metadata["loss"] == "cross_entropy"
            ? .classes(draw.integers("targets", count: perStep ? n * timeSteps : n, below: outputs))
            : .values(draw.uniform("targets", count: (perStep ? n * timeSteps : n) * outputs))
        let batch = SequenceBatch(
            count: n, timeSteps: encoderSteps, inputs: inputs,
            // Truncated-BPTT cases keep every row full, as a text stream's chunks are.
            lengths: chunk > 0 ? nil : try file.integers("lengths").map { Int32($0) },
            decoderInputs: c.topology == .encoderDecoder
                ? draw.uniform("decoder_inputs", count: n * timeSteps * c.input.rnnInputSize) : nil,
            decoderTimeSteps: c.topology == .encoderDecoder ? timeSteps : 0, targets: targets)
        return range.map { batch.timeSlice($0) } ?? batch
    }

    /// Compares `values` (a whole tensor) with the fixture's quantity `key` at
    /// its sampled positions, and the whole tensor's norm.
    func expectMatches(_ values: [Float], _ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reference = try file.floats(key)
        let stats = try file.floats(key + ":stats")
        // "grad.rnn.weight_hh_l0" and "adam.rnn.weight_hh_l0" share the positions of "rnn.weight_hh_l0".
        let tensor = key.split(separator: ".", maxSplits: 1).last!
        let positions = try file.integers("index.\(tensor)")
        try #require(
            positions.count == reference.count && positions.allSatisfy { $0 < values.count },
            "\(name) \(key): \(values.count) values for positions up to \(positions.max() ?? 0)")
        let (unit, norm, pytorchError) = (Double(stats[0]), Double(stats[1]), Double(stats[2]))
        let tolerance = ScaleGolden.tolerance(pytorchError: pytorchError, adam: key.hasPrefix("adam"))
        var worst = (error: 0.0, index: 0)
        for (sample, position) in positions.enumerated() {
            let error = abs(Double(values[position]) - Double(reference[sample])) / unit
            if error > worst.error { worst = (error, sample) }
        }
        let scale = key.hasPrefix("adam") ? "the step size" : "the tensor's scale"
        let position = positions[worst.index]
        #expect(
            worst.error <= tolerance,
            """
            \(name) \(key)[\(position)]: got \(values[position]), float64 reference \(reference[worst.index]); \
            error \(worst.error) of \(scale), PyTorch float32's \(pytorchError)
            """,
            sourceLocation: sourceLocation)
        let ours = values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(
            abs(ours - norm) <= 1e-4 * max(norm, 1e-30),
            "\(name) \(key): norm \(ours), float64 reference \(norm)", sourceLocation: sourceLocation)
    }

    func optimizer(for run: String) throws -> (Optimizer, GradientClipping) {
        let optimizer: Optimizer =
            run.hasPrefix("adam")
            ? .adam(
                learningRate: try number("adam_lr"), beta1: try number("adam_beta1"), beta2: try number("adam_beta2"),
                epsilon: try number("adam_eps"))
            : run == "sgd"
                ? .sgd(
                    learningRate: try number("sgd_lr"), momentum: try number("sgd_momentum"),
                    weightDecay: try number("sgd_weight_decay"))
                : .sgd(learningRate: try number("sgd_lr"))
        let clipping: GradientClipping =
            run.hasSuffix("clip_norm")
            ? .norm(try number("\(run)_limit"))
            : run == "sgd_clip_value" ? .value(try number("\(run)_limit")) : .none
        return (optimizer, clipping)
    }
}

@Test(arguments: ScaleGolden.caseNames)
func matchesPyTorchAtScale(_ name: String) throws {
    // A child run for one variant (see VariantGoldenTests) must really be on it.
    if let requested = ProcessInfo.processInfo.environment["RNNKIT_ISA"] {
        #expect(KernelSelection.current.instructionSet.rawValue == requested)
    }
    let fixture = try ScaleCase(name)
    let start = try fixture.model()
    let batch = try fixture.batch()

    if fixture.chunk == 0 {
        // Forward, on one thread and on three (a team per shard, split steps).
        let (outputs, finalState) = try start.run(batch, threads: 1)
        let (outputs3, finalState3) = try start.run(batch, threads: 3)
        #expect(outputs.map(\.bitPattern) == outputs3.map(\.bitPattern), "\(name): outputs differ on 3 threads")
        #expect(finalState == finalState3, "\(name): final state differs on 3 threads")
        try fixture.expectMatches(outputs, "outputs")
        try fixture.expectMatches(finalState.hidden, "h_n")
        if let cell = finalState.cell { try fixture.expectMatches(cell, "c_n") }

        // Loss and gradients: the batch-wide normalisation and the shard tree.
        let (loss, gradients) = try Trainer(model: start, optimizer: .sgd(learningRate: 0), threads: 1).gradients(batch)
        let (loss3, gradients3) = try Trainer(model: start, optimizer: .sgd(learningRate: 0), threads: 3).gradients(
            batch)
        #expect(
            loss.bitPattern == loss3.bitPattern
                && gradients.mapValues { $0.map(\.bitPattern) }
                    == gradients3.mapValues { $0.map(\.bitPattern) },
            "\(name): gradients differ on 3 threads")
        expectClose([Float(loss)], try fixture.file.floats("loss"), "\(name) loss")
        for parameter in start.parameterNames { try fixture.expectMatches(gradients[parameter]!, "grad.\(parameter)") }
    }

    // Training runs on two threads.
    for run in fixture.runs {
        let model = start.copy()
        let (optimizer, clipping) = try fixture.optimizer(for: run)
        let trainer = Trainer(model: model, optimizer: optimizer, clipping: clipping, threads: 2)
        var losses: [Float] = []
        if fixture.chunk > 0 {
            // Truncated BPTT: each chunk starts from the previous one's final state.
            var state = try RecurrentState.zeros(for: model.configuration, count: fixture.batchSize)
            for start in stride(from: 0, to: fixture.timeSteps, by: fixture.chunk) {
                let report = try trainer.step(
                    try fixture.batch(steps: start..<start + fixture.chunk), initialState: state)
                losses.append(Float(report.loss))
                state = try #require(report.finalState)
            }
            try fixture.expectMatches(state.hidden, "\(run).h_n")
            if let cell = state.cell { try fixture.expectMatches(cell, "\(run).c_n") }
        } else {
            for _ in 0..<fixture.steps { losses.append(Float(try trainer.step(batch).loss)) }
        }
        let expectedLosses = try fixture.file.floats("\(run).losses")
        expectClose(losses, expectedLosses, tolerance: 1e-4, "\(name) \(run).losses")
        for parameter in model.parameterNames {
            try fixture.expectMatches(model.parameter(parameter)!, "\(run).\(parameter)")
        }
    }
}

@Test func scaleFixturesArePresent() {
    #expect(ScaleGolden.caseNames.count >= 20)
}
