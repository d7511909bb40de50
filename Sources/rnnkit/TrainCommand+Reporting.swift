import Foundation
import RNNKit

extension TrainCommand {
    // MARK: Shared by the .ts and CSV paths

    /// The .ts and CSV runs take seconds: they keep no checkpoints.
    func rejectCheckpointing() throws {
        try reject(["checkpoint", "checkpoint-every", "checkpoint-seconds", "resume"],
                   reason: "applies to text and tensor data sets; a .ts or CSV run takes seconds: run it again instead")
    }

    var maximumBadSteps: Int { get throws { try arguments.integer("max-bad-steps", default: 10)! } }

    /// Writes the model with what it needs to know about its data, and its
    /// loss curve; then reports as `finish` does, ending with `closing` lines
    /// (the held-out figures a user trained for), or with one JSON object
    /// holding `finish`'s fields and `extra`.
    func save(model: Model, metadata: DataMetadata, result: TrainingPlan.Result, heldOutName: String,
              extra: [(String, JSONValue)], closing: [String]) throws {
        let out = outURL
        try model.write(to: out, extraMetadata: metadata.entries)
        var plot: URL?
        if !arguments.flag("no-plot") {
            let url = out.deletingPathExtension().appendingPathExtension("loss.svg")
            var series = [LineChart.Series(name: "training", points: result.trainingCurve, color: LineChart.palette[0])]
            if !result.validationCurve.isEmpty {
                series.append(.init(name: heldOutName, points: result.validationCurve, color: LineChart.palette[1]))
            }
            let chart = LineChart(title: "Loss of \(out.lastPathComponent)", xLabel: "step", yLabel: "loss", series: series)
            try writeAtomically(chart.svg(), to: url)
            plot = url
        }
        if arguments.flag("json") {
            printJSON([("steps", .integer(result.steps)), ("train_loss", .number(result.finalLoss)),
                       ("gradient_norm", .number(result.finalGradientNorm)), ("skipped_steps", .integer(result.skipped)),
                       ("seconds", .number(result.seconds)), ("sequences_per_s", .number(result.sequencesPerSecond)),
                       ("model", .string(out.path)), ("plot", plot.map { .string($0.path) } ?? .null)] + extra)
            return
        }
        var summary = String(format: "trained %d steps in %.1f s, training loss %.4f", result.steps, result.seconds, result.finalLoss)
        if result.skipped > 0 { summary += ", \(result.skipped) steps skipped for non-finite gradients" }
        print(summary)
        print("wrote \(out.path)" + (plot.map { " and \($0.path)" } ?? ""))
        for line in closing { print(line) }
    }
}
