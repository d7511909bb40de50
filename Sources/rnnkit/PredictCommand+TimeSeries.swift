import Foundation
import RNNKit

extension PredictCommand {
    /// Classifies the cases of a `.ts` file: each case's predicted class and
    /// every class's probability, as CSV (`--out X.csv`) or as safetensors
    /// (`classes` I64 `[N]`, `probabilities` and `logits` F32 `[N, K]`).
    /// Labels in the file are not needed and not used; `eval` scores them.
    func predictTimeSeries(_ dataURL: URL) throws {
        let modelURL = try requiredPath(arguments, "model")
        let out = try requiredPath(arguments, "out")
        try checkOutputs([out], inputs: [modelURL, dataURL])
        let (model, metadata) = try readModel(modelURL)
        let set = try TimeSeriesClassificationSet.read(dataURL, for: model, metadata: metadata)
        var batch = try set.modelBatch(for: model, metadata: metadata)
        batch.targets = nil
        let logits = try model.outputs(for: batch, threads: try arguments.integer("threads"))
        let names = set.outputNames(for: model)
        let width = names.count
        var probabilities: [Float] = []
        var classes: [Int] = []
        for row in 0..<set.count {
            let rowProbabilities = softmax(logits[(row * width)..<((row + 1) * width)])
            probabilities += rowProbabilities
            classes.append(rowProbabilities.indices.max { rowProbabilities[$0] < rowProbabilities[$1] }!)
        }
        if out.pathExtension.lowercased() == "csv" {
            let quoted = { (text: String) in
                text.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
            }
            var text = (["case", "predicted", "label"] + names.map { "p_\($0)" }).map(quoted).joined(separator: ",") + "\n"
            for row in 0..<set.count {
                text += "\(row + 1),\(quoted(names[classes[row]])),\(quoted(set.classNames[Int(set.labels[row])]))"
                text += probabilities[(row * width)..<((row + 1) * width)].map { ",\($0)" }.joined() + "\n"
            }
            try writeAtomically(text, to: out)
        } else {
            var file = SafetensorsFile(metadata: ["topology": "many_to_one"],
                                       tensors: ["classes": Tensor(int64: classes.map(Int64.init), shape: [set.count]),
                                                 "probabilities": Tensor(floats: probabilities, shape: [set.count, width]),
                                                 "logits": Tensor(floats: logits, shape: [set.count, width])])
            file.metadata[DataMetadata.Key.classNames] = JSONValue.array(names.map { .string($0) }).serialized()
            try file.write(to: out)
        }
        print("wrote the predicted classes of \(set.count) cases of \(dataURL.lastPathComponent) to \(out.path)")
    }
}
