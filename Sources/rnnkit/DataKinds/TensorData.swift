import CommandLineOptions
import Foundation
import RNNKit

/// A safetensors tensor data set: `inputs` [N, T, I], optional `lengths`,
/// and `targets` (classes or values, per sequence or per step) that give the
/// model's topology and loss.
enum TensorData: PredictableData {
    static let name = "tensor data sets"
    static let singular = "a tensor data set"
    static let heading = "Tensor data sets (FILE.safetensors)"
    static let suffixes = ["safetensors"]
    static let refusals = [
        "early-stop": "needs validation data, and a tensor data set has none",
        "restore-best": "needs validation data, and a tensor data set has none"
    ]

    static let trainOptions: [OptionSpec] =
        [
            .flag(
                "no-head", "no output layer; the targets are the top layer's outputs (as wide as hidden x directions)")
        ] + TrainingPlan.checkpointOptions
    static let evalOptions = EvalCommand.confusionPlotOptions

    static func trainOutputs(_ command: TrainCommand) -> [URL?] { [command.checkpointURL] }

    // MARK: Training

    static func train(_ command: TrainCommand) throws {
        let arguments = command.arguments
        Interrupts.install()
        let dataset = try TensorDataset(contentsOf: command.dataURL!)
        let model = try command.initialModel { () throws -> ModelConfiguration in
            ModelConfiguration(
                cell: try command.cell(), input: .dense(features: dataset.inputSize),
                hiddenSize: try arguments.integer("hidden", default: 64)!,
                layers: try command.layers,
                bidirectional: arguments.flag("bidirectional"),
                outputSize: dataset.outputSize, topology: dataset.topology,
                head: arguments.flag("no-head") ? .identity : .linear, bias: command.bias,
                dropout: try command.dropout, projectionSize: try command.projectionSize)
        }
        try dataset.check(fits: model.configuration)
        let plan = try TrainingPlan(arguments, defaults: .init(), trainingCount: dataset.count, seed: try command.seed)
        let batch = dataset.batch
        let result = try plan.run(
            model: model, threads: try arguments.integer("threads"),
            progress: ProgressLine(quiet: arguments.flag("json")),
            data: { _ in batch }, score: nil, maximumBadSteps: try command.maximumBadSteps,
            checkpointing: try TrainingPlan.checkpointing(arguments, url: command.checkpointURL),
            cancellation: Interrupts.cancellation)
        try command.finish(model: model, result: result, extra: [])
    }

    // MARK: Evaluation

    /// A classifier's confusion matrix, or a regressor's errors, over every
    /// sequence (or every step within its length).
    static func evaluate(_ command: EvalCommand, model: Model, metadata: DataMetadata, modelURL: URL, data: URL) throws
    {
        let arguments = command.arguments
        let dataset = try TensorDataset(contentsOf: data)
        try dataset.check(fits: model.configuration)
        var batch = dataset.batch
        batch.targets = nil
        let outputs = try model.outputs(for: batch, threads: try command.threads)
        let width = model.configuration.outputSize
        let length = { (row: Int) in dataset.lengths.map { Int($0[row]) } ?? dataset.timeSteps }
        switch dataset.targets {
        case .classes(let labels), .sequenceClasses(let labels):
            let names =
                try metadata.strings(DataMetadata.Key.classNames).flatMap { $0.count == width ? $0 : nil }
                ?? (0..<width).map(String.init)
            var scores = ClassificationScores(classNames: names)
            let perStep = labels.count != dataset.count
            for row in 0..<dataset.count {
                for step in 0..<(perStep ? length(row) : 1) {
                    let position = perStep ? row * dataset.timeSteps + step : row
                    scores.add(
                        logits: outputs[(position * width)..<((position + 1) * width)], label: Int(labels[position]))
                }
            }
            try command.report(
                scores, modelURL: modelURL,
                what: "\(data.lastPathComponent): \(scores.count) \(perStep ? "steps" : "sequences"), \(width) classes")
        case .vectors(let targets, _), .sequences(let targets, _):
            if arguments.has("plot") || arguments.flag("no-plot") {
                throw UsageError("--plot applies to classifiers; this model is a regressor")
            }
            var errors = RegressionScores()
            let perStep = targets.count != dataset.count * width
            for row in 0..<dataset.count {
                for step in 0..<(perStep ? length(row) : 1) {
                    let position = perStep ? row * dataset.timeSteps + step : row
                    for unit in 0..<width {
                        errors.add(
                            predicted: outputs[position * width + unit], actual: targets[position * width + unit])
                    }
                }
            }
            command.reportErrors(
                errors, what: "\(data.lastPathComponent): \(dataset.count) sequences, \(errors.count) values",
                extra: [])
        }
    }

    // MARK: Prediction

    /// Writes the model's `outputs` ([N, T, O] or [N, O]) as safetensors.
    static func predict(_ command: PredictCommand, model modelURL: URL, data dataURL: URL, out: URL) throws {
        guard out.pathExtension.lowercased() != "csv" else {
            throw UsageError(
                "--out \(out.lastPathComponent): the outputs of a tensor data set are written as safetensors; CSV is "
                    + "for .ts sets"
            )
        }
        try checkOutputs([out], inputs: [modelURL, dataURL])
        let model = try Model(contentsOf: modelURL)
        let data = try TensorDataset.Inputs(contentsOf: dataURL)
        try data.check(fits: model.configuration)
        let outputs = try model.outputs(for: data.batch, threads: try command.arguments.integer("threads"))
        let c = model.configuration
        let shape = c.topology.outputsPerStep ? [data.count, data.timeSteps, c.outputSize] : [data.count, c.outputSize]
        try SafetensorsFile(
            metadata: ["topology": c.topology.rawValue],
            tensors: ["outputs": Tensor(floats: outputs, shape: shape)]
        ).write(to: out)
        print("wrote outputs \(shape) to \(out.path)")
    }
}
