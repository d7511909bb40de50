import Foundation
import Testing
import RNNKit

// The real-data paths of `rnnkit train` (.ts classification, CSV forecasting)
// and `rnnkit forecast`, on tiny generated files: a few steps each, so that
// they check the plumbing (files, metadata, figures, errors), not accuracy.
// The README's "Real data" section has the runs on the UCR/UEA and
// forecasting data sets.

/// A two-class `.ts` set: class `up` rises, class `down` falls, with noise;
/// `dimensions` per step, lengths between `shortest` and `longest`.
func writeTimeSeriesSet(
    to url: URL, count: Int, dimensions: Int = 2, shortest: Int = 6, longest: Int = 12, seed: UInt64
) throws {
    var generator = SeededGenerator(seed: seed)
    var text = """
        # generated for the rnnkit command-line tests
        @problemName Tiny
        @timeStamps false
        @univariate \(dimensions == 1)
        @dimensions \(dimensions)
        @equalLength \(shortest == longest)
        @classLabel true up down
        @data

        """
    for index in 0..<count {
        let label = index % 2 == 0 ? "up" : "down"
        let length = shortest + index % (longest - shortest + 1)
        let slope: Float = label == "up" ? 0.5 : -0.5
        let dimensionValues = (0..<dimensions).map { dimension in
            (0..<length).map { step in
                String(10 + Float(dimension) + slope * Float(step) + generator.uniform(-0.2, 0.2))
            }
            .joined(separator: ",")
        }
        text += dimensionValues.joined(separator: ":") + ":\(label)\n"
    }
    try Data(text.utf8).write(to: url)
}

/// A monthly series from 2000-01: trend plus a yearly swing.
func writeMonthlySeries(to url: URL, months: Int = 60) throws {
    var text = "Month,Sales\n"
    for month in 0..<months {
        let value = 100 + Double(month) + 20 * sin(2 * Double.pi * Double(month) / 12)
        text += String(format: "%04d-%02d,%.2f\n", 2000 + month / 12, month % 12 + 1, value)
    }
    try Data(text.utf8).write(to: url)
}

/// The JSON object on the last line of a run's standard output.
func lastJSON(_ outcome: Tool.Outcome) throws -> JSONObject {
    let line = outcome.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
    return try #require(try JSONValue(parsing: line).objectValue, "\(outcome.standardOutput)")
}

func number(_ value: JSONValue?) -> Double? {
    switch value {
    case .number(let number)?: number
    case .integer(let number)?: Double(number)
    default: nil
    }
}

@Test func trainOnTimeSeriesUsesTheTestFileBesideIt() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let train = folder.appendingPathComponent("Tiny_TRAIN.ts"), test = folder.appendingPathComponent("Tiny_TEST.ts")
    try writeTimeSeriesSet(to: train, count: 24, seed: 1)
    try writeTimeSeriesSet(to: test, count: 10, seed: 2)
    let model = folder.appendingPathComponent("tiny.safetensors")
    let run = try Tool.run([
        "train", "--data", train.path, "--hidden", "8", "--steps", "20", "--patch", "2",
        "--out", model.path, "--json"
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let summary = try lastJSON(run)
    #expect(summary["steps"]?.integerValue == 20)
    let accuracy = try #require(number(summary["test_accuracy"]))
    #expect(number(summary["accuracy"]) == accuracy)
    #expect(summary["val_loss"] == nil)
    #expect(summary["classes"] == .array(["up", "down"]))

    // The file records what eval and predict need to read new data the same way.
    let metadata = try SafetensorsFile(contentsOf: model).metadata
    #expect(metadata["data_kind"] == "time_series_classification")
    #expect(metadata["class_names"] == #"["up","down"]"#)
    #expect(metadata["patch"] == "2")
    let scalingText = try #require(metadata["feature_scaling"])
    let scaling = try #require(try JSONValue(parsing: scalingText).objectValue)
    #expect(scaling["mean"]?.arrayValue?.count == 2 && scaling["deviation"]?.arrayValue?.count == 2)
    #expect(try Model(contentsOf: model).configuration.input == .dense(features: 4))

    // eval scores the test file exactly as training did.
    let eval = try Tool.run(["eval", "--model", model.path, "--data", test.path, "--json"])
    #expect(eval.status == 0, "\(eval.standardError)")
    let scores = try lastJSON(eval)
    #expect(number(scores["accuracy"]) == accuracy)
    #expect(scores["count"]?.integerValue == 10)
}

@Test func validationSplitIsReportedAndStratified() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    // No _TEST file beside it: --val-split is the only held-out part.
    let data = folder.appendingPathComponent("alone.ts")
    try writeTimeSeriesSet(to: data, count: 20, dimensions: 1, shortest: 8, longest: 8, seed: 3)
    let run = try Tool.run([
        "train", "--data", data.path, "--hidden", "4", "--steps", "5", "--val-split", "0.2",
        "--out", folder.appendingPathComponent("m.safetensors").path, "--json"
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let summary = try lastJSON(run)
    #expect(number(summary["val_loss"]) != nil)
    #expect(number(summary["val_accuracy"]).map { $0 * 4 == ($0 * 4).rounded() } == true, "2 of each class held out")
    #expect(summary["test_accuracy"] == nil)
}

@Test func trainOnSeriesForecastsTheHeldOutValues() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("sales.csv")
    try writeMonthlySeries(to: data)
    let model = folder.appendingPathComponent("sales.safetensors")
    let run = try Tool.run([
        "train", "--data", data.path, "--hidden", "8", "--steps", "20", "--window", "12",
        "--out", model.path, "--json"
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let summary = try lastJSON(run)
    #expect(number(summary["mape"]).map { $0.isFinite && $0 >= 0 } == true)
    // The seasonal-naive forecast repeats last year: 12 below on this trend, every month.
    let naive = try #require(number(summary["seasonal_naive_mape"]))
    let expected = (48..<60).map { month in 12 / (100 + Double(month) + 20 * sin(2 * Double.pi * Double(month) / 12)) }
    #expect(abs(naive - 100 * expected.reduce(0, +) / 12) < 0.01)
    #expect(summary["window"]?.integerValue == 12)

    let csv = try String(contentsOf: folder.appendingPathComponent("sales.forecast.csv"), encoding: .utf8)
    let lines = csv.split(separator: "\n")
    #expect(lines.first == "Month,Sales_actual,Sales_predicted")
    #expect(lines.count == 13 && lines[1].hasPrefix("2004-01,") && lines[12].hasPrefix("2004-12,"))
    let svg = try String(contentsOf: folder.appendingPathComponent("sales.forecast.svg"), encoding: .utf8)
    #expect(svg.hasPrefix("<svg") && svg.contains("seasonal naive"))
    let metadata = try SafetensorsFile(contentsOf: model).metadata
    #expect(
        metadata["data_kind"] == "forecasting" && metadata["forecast_window"] == "12"
            && metadata["forecast_transform"] == "diff")

    // Past the end of the series, with timestamps continued month by month.
    let out = folder.appendingPathComponent("next.csv")
    let forecast = try Tool.run([
        "forecast", "--model", model.path, "--data", data.path, "--steps", "3", "--out", out.path, "--json"
    ])
    #expect(forecast.status == 0, "\(forecast.standardError)")
    #expect(try lastJSON(forecast)["timestamps"] == .array(["2005-01", "2005-02", "2005-03"]))
    #expect(try String(contentsOf: out, encoding: .utf8).split(separator: "\n").count == 4)
    #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("next.svg").path))

    // Over held-out values: the same forecast and figures as training's.
    let again = try Tool.run([
        "forecast", "--model", model.path, "--data", data.path, "--test-count", "12", "--json",
        "--out", folder.appendingPathComponent("again.csv").path
    ])
    #expect(again.status == 0, "\(again.standardError)")
    #expect(number(try lastJSON(again)["mape"]) == number(summary["mape"]))

    let eval = try Tool.run(["eval", "--model", model.path, "--data", data.path, "--json"])
    #expect(eval.status == 0, "\(eval.standardError)")
    let errors = try lastJSON(eval)
    #expect(errors["count"]?.integerValue == 12)
    let mse = try #require(number(errors["mse"])), rmse = try #require(number(errors["rmse"]))
    #expect(abs(rmse * rmse - mse) <= 1e-9 * max(1, mse))
}

@Test func malformedTimeSeriesFileNamesItsPosition() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("Bad_TRAIN.ts")
    try Data("@problemName Bad\n@classLabel true a b\n@data\n1,2,3:a\n1,x,3:b\n".utf8).write(to: data)
    let out = folder.appendingPathComponent("model.safetensors")
    let run = try Tool.run(["train", "--data", data.path, "--steps", "1", "--out", out.path])
    #expect(run.status == 1)
    #expect(run.standardError.contains("Bad_TRAIN.ts:5:3: expected a number, found 'x'"), "\(run.standardError)")
    #expect(run.standardError.split(separator: "\n").count == 1)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["Bad_TRAIN.ts"])
}

@Test(arguments: [
    (["--window", "4"], "--window applies to forecasting"),
    (["--val-split", "1"], "--val-split must be below 1"),
    (["--patch", "0"], "--patch expects an integer"),
    (["--checkpoint-every", "10"], "--checkpoint-every applies to text and tensor data sets")
])
func timeSeriesOptionsAreChecked(options: [String], message: String) throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("Tiny_TRAIN.ts")
    try writeTimeSeriesSet(to: data, count: 6, seed: 4)
    let run = try Tool.run(
        ["train", "--data", data.path, "--out", folder.appendingPathComponent("m.safetensors").path] + options)
    #expect(run.status == 2)
    #expect(run.standardError.contains(message), "\(run.standardError)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["Tiny_TRAIN.ts"])
}

@Test func seriesTooShortForItsWindowIsRefused() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("short.csv")
    try writeMonthlySeries(to: data, months: 20)
    let run = try Tool.run([
        "train", "--data", data.path, "--window", "12", "--out", folder.appendingPathComponent("m.safetensors").path
    ])
    #expect(run.status == 2)
    #expect(run.standardError.contains("leaves 8, too few for one window of 12"), "\(run.standardError)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["short.csv"])
}

@Test func weightAveragingIsTheDefaultAndCanBeTurnedOff() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("Tiny_TRAIN.ts")
    try writeTimeSeriesSet(to: data, count: 8, seed: 8)
    let averaged = folder.appendingPathComponent("averaged.safetensors"),
        last = folder.appendingPathComponent("last.safetensors")
    for (out, extra) in [(averaged, [String]()), (last, ["--no-averaging"])] {
        let run = try Tool.run(
            ["train", "--data", data.path, "--hidden", "4", "--steps", "8", "--out", out.path] + extra)
        #expect(run.status == 0, "\(run.standardError)")
    }
    #expect(try Model(contentsOf: averaged).parameter("head.bias") != Model(contentsOf: last).parameter("head.bias"))
    let tensors = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: tensors)
    let refused = try Tool.run([
        "train", "--data", tensors.path, "--no-averaging", "--out", folder.appendingPathComponent("x.safetensors").path
    ])
    #expect(
        refused.status == 2 && refused.standardError.contains("--no-averaging applies to .ts"),
        "\(refused.standardError)")
}
