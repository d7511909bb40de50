import Foundation
import Testing
@testable import RNNKit

/// Seeded edits of a model file's `__metadata__` and tensors: values that
/// sizes, names and flags cannot take, missing, extra and renamed keys,
/// missing, extra, reshaped and retyped tensors.
struct ModelFileMutator {
    var generator: SeededGenerator

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    static let values: [String] = [
        "0", "-1", "1", "2", "3", "7", "99999999999", "1e3", "", " ", "3 ", "+3", "0x3", "3.0", "٣", "３",
        "16777216", "16777217", "2147483648", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        String(repeating: "9", count: 100_000), "true", "false", "True", "nan", "inf", "lstm", "gru", "rnn_tanh",
        "rnn_relu", "LSTM", "lstm\u{0}", "ℓstm", "🦀", "many_to_many", "many_to_one", "one_to_one", "one_to_many",
        "encoder_decoder", "linear", "identity", "dense", "embedding", "one_hot", "rnnkit-model", "rnnkit-checkpoint",
        "4000", "12000", "[]", #"["a"]"#, #"["a","a"]"#, #"["ab"]"#, "[1]", "[", "{}", #"["\u0000","b","c"]"#,
        #"["e","é","e\u0301"]"#,
        #"["👩‍👩‍👧","🦀","x"]"#, "adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)", "281474976710657"
    ]
    static let keys = [
        "format", "cell", "input_size", "hidden_size", "num_layers", "bidirectional", "output_size",
        "topology", "head", "input_kind", "vocab_size", "embedding_dim", "vocabulary", "optimizer",
        "optimizer_step", "progress.step", "", "🦀", "Cell", "cell "
    ]

    private mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(generator.next() % UInt64(bound)) }
    private mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// `file` with one to three edits.
    mutating func mutate(_ file: SafetensorsFile) -> SafetensorsFile {
        var result = file
        for _ in 0...below(3) {
            let keys = result.metadata.keys.sorted(), names = result.tensors.keys.sorted()
            switch below(10) {
            case 0..<4 where !keys.isEmpty:
                // A strange value, or another key's value.
                result.metadata[pick(keys)] = below(4) == 0 ? result.metadata[pick(keys)] : pick(Self.values)
            case 4 where !keys.isEmpty: result.metadata[pick(keys)] = nil
            case 5: result.metadata[pick(Self.keys)] = pick(Self.values)
            case 6 where !keys.isEmpty:
                let key = pick(keys)
                result.metadata[key.uppercased() + (below(2) == 0 ? " " : "")] = result.metadata.removeValue(
                    forKey: key)
            case 7 where !names.isEmpty: result.tensors[pick(names)] = nil
            case 8 where !names.isEmpty:
                // A tensor under a name it does not have, or one too many.
                result.tensors[pick(names) + pick(["", "_reverse", "2"])] = result.tensors[pick(names)]
            case 9 where !names.isEmpty:
                let name = pick(names), tensor = result.tensors[name]!
                let values = (try? tensor.floats()) ?? []
                var shape = tensor.shape
                switch below(4) {
                case 0: shape = [values.count]
                case 1: shape.reverse()
                case 2: shape.insert(1, at: below(shape.count + 1))
                default:
                    result.tensors[name] =
                        below(2) == 0
                        ? Tensor(doubles: values.map(Double.init), shape: shape)
                        : Tensor(int64: values.map { Int64($0.rounded()) }, shape: shape)
                    continue
                }
                result.tensors[name] = Tensor(floats: values, shape: shape)
            default:
                break
            }
        }
        return result
    }
}

/// What a model file or checkpoint loader may throw: a typed error that says something.
private func expectTypedRefusal(_ error: any Error) {
    #expect(
        (error is ModelError || error is SafetensorsError) && !String(describing: error).isEmpty,
        "\(type(of: error)): \(error)")
}

/// A model that loaded from a mutated file works: it runs a small batch,
/// and one with a vocabulary samples text.
private func exercise(_ model: Model) throws {
    var factory = BatchFactory(seed: 1)
    let c = model.configuration
    _ = try model.outputs(
        for: factory.batch(for: c, count: 2, timeSteps: 3, variableLengths: true, decoderTimeSteps: 2), threads: 1)
    if !c.vocabulary.isEmpty, c.topology == .manyToMany, c.input.readsTokens, c.outputSize == c.vocabulary.count {
        _ = try model.sampleText(prime: "", length: 5, temperature: 1, seed: 1)
    }
}

/// Small valid models of each input kind and topology, with and without a
/// head and a vocabulary.
private func sampleModels() throws -> [Model] {
    try [
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 3), hiddenSize: 4, layers: 2, bidirectional: true,
            outputSize: 2, topology: .manyToMany),
        ModelConfiguration(
            cell: .gru, input: .embedding(vocabularySize: 5, dimension: 3), hiddenSize: 4,
            outputSize: 3, topology: .manyToOne),
        ModelConfiguration(
            cell: .rnnTanh, input: .oneHot(vocabularySize: 3), hiddenSize: 2, outputSize: 3,
            topology: .manyToMany, vocabulary: ["a", "b", "c"]),
        ModelConfiguration(
            cell: .rnnReLU, input: .dense(features: 2), hiddenSize: 3, outputSize: 2,
            topology: .encoderDecoder),
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 2), hiddenSize: 3, bidirectional: true,
            outputSize: 6, topology: .manyToMany, head: .identity)
    ].enumerated().map { try Model($0.element, seed: UInt64($0.offset)) }
}

/// Every mutation of a model file's metadata and tensors loads (and the
/// model then works) or is refused with a typed error; a share of each.
/// Every tenth goes through the bytes of a file as well.
@Test func mutatedModelMetadataLoadsOrIsRefused() throws {
    var mutator = ModelFileMutator(seed: 0x3E7A)
    var (loaded, refused) = (0, 0)
    for (index, model) in try sampleModels().enumerated() {
        let original = model.safetensors()
        for iteration in 0..<600 {
            let mutated = mutator.mutate(original)
            do {
                let file =
                    iteration % 10 == 0
                    ? try SafetensorsFile(bytes: mutated.serialized(), source: "fuzz \(index).\(iteration)") : mutated
                try exercise(try Model(file: file))
                loaded += 1
            } catch {
                refused += 1
                expectTypedRefusal(error)
            }
        }
    }
    #expect(loaded > 100 && refused > 1000, "loaded \(loaded), refused \(refused)")
}

/// The same for checkpoints: the model they hold, and the optimiser state
/// restored into a trainer of the same settings.
@Test func mutatedCheckpointMetadataLoadsOrIsRefused() throws {
    var mutator = ModelFileMutator(seed: 0xC4EC)
    var (loaded, refused) = (0, 0)
    for (index, model) in try sampleModels().enumerated() {
        let optimizer = Optimizer.adam(learningRate: 0.01)
        let trainer = Trainer(model: model, optimizer: optimizer, threads: 1)
        var factory = BatchFactory(seed: 2)
        let c = model.configuration
        try trainer.step(
            factory.batch(
                for: c, count: 3, timeSteps: 3, variableLengths: false, decoderTimeSteps: 2,
                classes: c.input.readsTokens && c.head == .linear))
        let original = trainer.checkpoint(progress: ["step": "1", "epoch": "0"], history: ["train_loss": [1]]).file
        for iteration in 0..<300 {
            let mutated = mutator.mutate(original)
            do {
                let bytes = try mutated.serialized()
                let file =
                    iteration % 10 == 0
                    ? try SafetensorsFile(bytes: bytes, source: "fuzz \(index).\(iteration)") : mutated
                guard file.metadata["format"] == "rnnkit-checkpoint" else { continue }
                let checkpoint = Checkpoint(file: file)
                let restored = try checkpoint.model()
                try exercise(restored)
                try Trainer(model: restored, optimizer: optimizer, threads: 1).restoreOptimizer(from: checkpoint)
                _ = checkpoint.progress
                _ = checkpoint.history("train_loss")
                loaded += 1
            } catch {
                refused += 1
                expectTypedRefusal(error)
            }
        }
    }
    #expect(loaded > 100 && refused > 500, "loaded \(loaded), refused \(refused)")
}
