import Foundation
import Testing
import RNNKit

// `rnnkit eval` on each kind of data, and `rnnkit predict` on .ts sets.

@Test func evalPrintsAndDrawsTheConfusionMatrix() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let train = folder.appendingPathComponent("Tiny_TRAIN.ts")
    try writeTimeSeriesSet(to: train, count: 16, seed: 5)
    let model = folder.appendingPathComponent("tiny.safetensors")
    let run = try Tool.run(["train", "--data", train.path, "--hidden", "4", "--steps", "3", "--out", model.path])
    #expect(run.status == 0, "\(run.standardError)")

    let eval = try Tool.run(["eval", "--model", model.path, "--data", train.path])
    #expect(eval.status == 0, "\(eval.standardError)")
    let table = eval.standardOutput.split(separator: "\n").map { $0.split(separator: " ") }
    #expect(table.contains(["actual", "\\", "predicted", "up", "down", "recall"]), "\(eval.standardOutput)")
    #expect(
        table.contains { $0.first == "up" && $0.count == 4 } && table.contains { $0.first == "down" && $0.count == 4 })
    let heatmap = try String(contentsOf: folder.appendingPathComponent("tiny.confusion.svg"), encoding: .utf8)
    #expect(heatmap.hasPrefix("<svg") && heatmap.contains("up → down"))

    let plot = folder.appendingPathComponent("matrix.svg")
    let json = try Tool.run(["eval", "--model", model.path, "--data", train.path, "--plot", plot.path, "--json"])
    let scores = try lastJSON(json)
    #expect(scores["classes"] == .array(["up", "down"]))
    let confusion = try #require(
        scores["confusion"]?.arrayValue?.map { $0.arrayValue?.compactMap(\.integerValue) ?? [] })
    #expect(confusion.count == 2 && confusion.allSatisfy { $0.count == 2 })
    #expect(confusion.joined().reduce(0, +) == 16)
    let correct = confusion[0][0] + confusion[1][1]
    #expect(number(scores["accuracy"]) == Double(correct) / 16)
    #expect(number(scores["loss"]).map { $0 > 0 } == true)
    #expect(FileManager.default.fileExists(atPath: plot.path))
}

@Test func predictWritesClassesAndProbabilitiesOfATimeSeriesSet() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let train = folder.appendingPathComponent("Tiny_TRAIN.ts")
    try writeTimeSeriesSet(to: train, count: 8, seed: 6)
    let model = folder.appendingPathComponent("tiny.safetensors")
    #expect(
        try Tool.run(["train", "--data", train.path, "--hidden", "4", "--steps", "2", "--out", model.path]).status == 0)

    let csv = folder.appendingPathComponent("predictions.csv")
    let predict = try Tool.run(["predict", "--model", model.path, "--data", train.path, "--out", csv.path])
    #expect(predict.status == 0, "\(predict.standardError)")
    let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
    #expect(lines.first == "case,predicted,label,p_up,p_down")
    #expect(lines.count == 9)
    for line in lines.dropFirst() {
        let probabilities = line.split(separator: ",").suffix(2).compactMap { Double($0) }
        #expect(abs(probabilities.reduce(0, +) - 1) < 1e-5)
    }

    let tensors = folder.appendingPathComponent("predictions.safetensors")
    #expect(try Tool.run(["predict", "--model", model.path, "--data", train.path, "--out", tensors.path]).status == 0)
    let file = try SafetensorsFile(contentsOf: tensors)
    #expect(try file.integers("classes").count == 8)
    #expect(try file.tensor("probabilities").shape == [8, 2])
}

@Test func evalScoresRegressionTensorsAndText() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)
    let model = folder.appendingPathComponent("regressor.safetensors")
    #expect(
        try Tool.run(["train", "--data", data.path, "--hidden", "4", "--steps", "2", "--out", model.path]).status == 0)
    let eval = try Tool.run(["eval", "--model", model.path, "--data", data.path, "--json"])
    #expect(eval.status == 0, "\(eval.standardError)")
    let errors = try lastJSON(eval)
    #expect(number(errors["loss"]) == number(errors["mse"]))
    #expect(number(errors["mae"]).map { $0 > 0 } == true)

    let text = folder.appendingPathComponent("text.txt")
    try Data(String(repeating: "the cat sat on the mat. ", count: 40).utf8).write(to: text)
    let characterModel = folder.appendingPathComponent("chars.safetensors")
    let train = try Tool.run([
        "train", "--data", text.path, "--hidden", "8", "--seq-len", "16", "--steps", "2", "--out", characterModel.path
    ])
    #expect(train.status == 0, "\(train.standardError)")
    let scored = try Tool.run(["eval", "--model", characterModel.path, "--data", text.path, "--seq-len", "16", "--json"]
    )
    #expect(scored.status == 0, "\(scored.standardError)")
    let loss = try #require(number(try lastJSON(scored)["loss"]))
    #expect(loss > 0 && loss < 10)
    let whole = try Tool.run(["eval", "--model", characterModel.path, "--data", text.path, "--all", "--json"])
    #expect(try lastJSON(whole)["characters"]?.integerValue == 900)
}

@Test(arguments: [
    (["eval", "--data", "x.ts"], Int32(2), "--model is required"),
    (["eval", "--model", "/nonexistent/m.safetensors", "--data", "x.ts"], 1, "/nonexistent/m.safetensors"),
    (["forecast", "--model", "m.safetensors", "--data", "x.csv", "--steps", "3", "--test-count", "3"], 2, "not both")
])
func evalAndForecastErrorsAreOneLine(arguments: [String], status: Int32, message: String) throws {
    let outcome = try Tool.run(arguments)
    #expect(outcome.status == status)
    #expect(outcome.standardError.split(separator: "\n").count == 1, "\(outcome.standardError)")
    #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
}

@Test func forecastRefusesAModelOfAnotherKind() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let train = folder.appendingPathComponent("Tiny_TRAIN.ts")
    try writeTimeSeriesSet(to: train, count: 4, seed: 7)
    let model = folder.appendingPathComponent("classifier.safetensors")
    #expect(
        try Tool.run(["train", "--data", train.path, "--hidden", "4", "--steps", "1", "--out", model.path]).status == 0)
    let series = folder.appendingPathComponent("sales.csv")
    try writeMonthlySeries(to: series, months: 30)
    let forecast = try Tool.run(["forecast", "--model", model.path, "--data", series.path])
    #expect(forecast.status == 1)
    #expect(forecast.standardError.contains("not 'forecasting'"), "\(forecast.standardError)")
}
