import Foundation
import RNNKit

/// `rnnkit train`: fits a model to a data set and writes it.
struct TrainCommand: Command {
    static let name = "train"
    static let summary = "train a model on a data set and save it"
    static let usage = "[--data FILE] [OPTIONS]"
    static let options: [OptionSpec] = [
        .value("data", "FILE", "training data: a safetensors tensor data set (inputs, targets, lengths)"),
        .value("init", "MODEL", "start from this model file instead of a fresh model"),
        .value("cell", "KIND", "lstm, gru, rnn_tanh or rnn_relu (fresh models; default lstm)"),
        .value("hidden", "N", "hidden units per layer (default 64)"),
        .value("layers", "N", "stacked recurrent layers (default 1)"),
        .flag("bidirectional", "run each layer in both directions"),
        .value("steps", "N", "optimiser steps (default 100)"),
        .value("batch", "N", "sequences per mini-batch (default 32; the data set size means full batch)"),
        .flag("no-shuffle", "take mini-batches in data set order"),
        .value("optimizer", "NAME", "sgd or adam (default adam)"),
        .value("lr", "X", "learning rate (default 0.001 for adam, 0.01 for sgd)"),
        .value("momentum", "X", "SGD momentum (default 0)"),
        .value("weight-decay", "X", "L2 weight decay (default 0)"),
        .value("clip", "X", "clip the global gradient norm at X; 0 turns clipping off (default 0)"),
        .value("clip-value", "X", "clamp every gradient element into -X...X instead"),
        .value("seed", "N", "seed for initialisation and shuffling (default 0)"),
        .threads,
        .value("out", "FILE", "where to write the trained model (default model.safetensors)"),
        .json,
    ]

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    func run() throws {
        let dataURL = try requiredPath(arguments, "data")
        let dataset = try TensorDataset(contentsOf: dataURL)
        let seed = UInt64(try arguments.integer("seed", default: 0, range: 0...Int.max)!)
        let model = try makeModel(for: dataset, seed: seed)
        try dataset.check(fits: model.configuration)
        let plan = try TrainingPlan(arguments, defaultOptimizer: .adam(), defaultClip: 0, dataCount: dataset.count, seed: seed)
        let out = URL(fileURLWithPath: arguments.string("out") ?? "model.safetensors")
        let result = try plan.run(model: model, data: dataset.batch, threads: try arguments.integer("threads"),
                                  quiet: arguments.flag("json"))
        try model.write(to: out)
        if arguments.flag("json") {
            printJSON([("steps", .integer(result.steps)), ("loss", .number(result.finalLoss)),
                       ("gradient_norm", .number(result.finalGradientNorm)), ("skipped_steps", .integer(result.skipped)),
                       ("seconds", .number(result.seconds)), ("model", .string(out.path))])
        } else {
            print("trained \(result.steps) steps in \(String(format: "%.1f", result.seconds)) s, final loss \(String(format: "%.6g", result.finalLoss)); wrote \(out.path)")
        }
    }

    /// The `--init` model, or a fresh one shaped for the data.
    private func makeModel(for dataset: TensorDataset, seed: UInt64) throws -> Model {
        if let path = arguments.string("init") {
            for option in ["cell", "hidden", "layers", "bidirectional"] where arguments.has(option) {
                throw UsageError("--\(option) describes a fresh model; it cannot change the --init model")
            }
            return try Model(contentsOf: URL(fileURLWithPath: path))
        }
        let configuration = ModelConfiguration(
            cell: try arguments.choice("cell", default: .lstm, aliases: ["rnn": .rnnTanh])!,
            input: .dense(features: dataset.inputSize),
            hiddenSize: try arguments.integer("hidden", default: 64)!,
            layers: try arguments.integer("layers", default: 1, range: 1...1024)!,
            bidirectional: arguments.flag("bidirectional"),
            outputSize: dataset.outputSize, topology: dataset.topology)
        return try Model(configuration, seed: seed)
    }
}
