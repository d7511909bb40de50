import CommandLineOptions
import Foundation
import RNNKit

/// `rnnkit predict`: runs a model over a data set and writes its outputs.
struct PredictCommand: DataKindCommand {
    static let name = "predict"
    static let summary = "write a model's outputs for a data set"
    static let usage = "--model FILE --data FILE --out FILE"
    static let options: [OptionSpec] = [
        .value("model", "FILE", "model file (safetensors)"),
        .value(
            "data", "FILE",
            "safetensors tensor data set: `inputs` [N, T, I] and optional `lengths` as `train` reads them "
                + "(`targets` may be absent and are not used), or a .ts classification set (labels not used)"),
        .value(
            "out", "FILE",
            "safetensors file to write, with tensor `outputs` ([N, T, O] or [N, O]); for a .ts set "
                + "`classes` and `probabilities`, or CSV if FILE ends in .csv"),
        .threads
    ]
    /// Any file not `.ts` is read as a tensor data set.
    static var predictableKinds: [any PredictableData.Type] { [TimeSeriesData.self, TensorData.self] }
    static var dataKinds: [any DataKind.Type] { predictableKinds }
    static func kindOptions(_ kind: any DataKind.Type) -> [OptionSpec] { [] }

    let arguments: Arguments
    init(_ arguments: Arguments) { self.arguments = arguments }

    func run() throws {
        let modelURL = try requiredPath(arguments, "model"), dataURL = try requiredPath(arguments, "data")
        let out = try requiredPath(arguments, "out")
        // `dataKinds` is `predictableKinds`, so the kind chosen predicts.
        let kind = Self.kind(of: dataURL.path) as! any PredictableData.Type
        try kind.predict(self, model: modelURL, data: dataURL, out: out)
    }
}
