import Foundation
import RNNKit

/// `rnnkit predict`: runs a model over a data set and writes its outputs.
struct PredictCommand: Command {
    static let name = "predict"
    static let summary = "write a model's outputs for a data set"
    static let usage = "--model FILE --data FILE --out FILE"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "model file (safetensors)"),
        .value("data", "FILE", "safetensors tensor data set: `inputs` [N, T, I] and optional `lengths` as `train` reads them "
               + "(`targets` may be absent and are not used), or a .ts classification set (labels not used)"),
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
        let modelURL = try requiredPath(arguments, "model"), dataURL = try requiredPath(arguments, "data")
        let out = try requiredPath(arguments, "out")
        guard out.pathExtension.lowercased() != "csv" else {
            throw UsageError("--out \(out.lastPathComponent): the outputs of a tensor data set are written as safetensors; CSV is for .ts sets")
        }
        try checkOutputs([out], inputs: [modelURL, dataURL])
        let model = try Model(contentsOf: modelURL)
        let data = try TensorDataset.Inputs(contentsOf: dataURL)
        try data.check(fits: model.configuration)
        let outputs = try model.outputs(for: data.batch, threads: try arguments.integer("threads"))
        let c = model.configuration
        let shape = c.topology.outputsPerStep ? [data.count, data.timeSteps, c.outputSize] : [data.count, c.outputSize]
        try SafetensorsFile(metadata: ["topology": c.topology.rawValue],
                            tensors: ["outputs": Tensor(floats: outputs, shape: shape)]).write(to: out)
        print("wrote outputs \(shape) to \(out.path)")
    }
}
