import Foundation
import RNNKit

/// `rnnkit predict`: runs a model over a data set and writes its outputs.
struct PredictCommand: Command {
    static let name = "predict"
    static let summary = "write a model's outputs for a data set"
    static let usage = "--model FILE --data FILE --out FILE"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "model file (safetensors)"),
        .value("data", "FILE", "safetensors tensor data set (targets are optional), or a .ts classification set"),
        .value("out", "FILE", "safetensors file to write, with tensor `outputs` ([N, T, O] or [N, O]); for a .ts set "
               + "`classes` and `probabilities`, or CSV if FILE ends in .csv"),
        .threads,
    ]

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    func run() throws {
        if let path = arguments.string("data"), path.lowercased().hasSuffix(".ts") {
            try predictTimeSeries(URL(fileURLWithPath: path))  // PredictCommand+TimeSeries
            return
        }
        let model = try Model(contentsOf: try requiredPath(arguments, "model"))
        let dataset = try TensorDataset(contentsOf: try requiredPath(arguments, "data"))
        let out = try requiredPath(arguments, "out")
        try dataset.check(fits: model.configuration)
        var batch = dataset.batch
        batch.targets = nil
        let outputs = try model.outputs(for: batch, threads: try arguments.integer("threads"))
        let c = model.configuration
        let shape = c.topology.outputsPerStep ? [dataset.count, dataset.timeSteps, c.outputSize] : [dataset.count, c.outputSize]
        try SafetensorsFile(metadata: ["topology": c.topology.rawValue],
                            tensors: ["outputs": Tensor(floats: outputs, shape: shape)]).write(to: out)
        print("wrote outputs \(shape) to \(out.path)")
    }
}
