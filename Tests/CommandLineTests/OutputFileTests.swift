import Foundation
import Testing
import RNNKit

// Outputs are checked before any work, so that a long run never ends in a
// write error, never replaces its own data, and never leaves a file it
// could not read back.

/// A fresh folder holding the small regression data set as `data.safetensors`.
private func folderWithRegressionData() throws -> (folder: URL, data: URL) {
    let folder = try temporaryFolder()
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)
    return (folder, data)
}

@Test func anOutputThatCannotBeWrittenIsRefusedBeforeTraining() throws {
    let (folder, data) = try folderWithRegressionData()
    defer { try? FileManager.default.removeItem(at: folder) }
    // A step budget that would take minutes, had training started.
    let run = try Tool.run(["train", "--data", data.path, "--steps", "10000000", "--out", "/nonexistent/m.safetensors"])
    #expect(run.status == 2)
    #expect(
        run.standardError.contains("cannot write /nonexistent/m.safetensors: folder /nonexistent"),
        "\(run.standardError)")
    #expect(!run.standardError.contains("step"), "\(run.standardError)")
}

@Test func anOutputThatIsAlsoAnInputIsRefused() throws {
    let (folder, data) = try folderWithRegressionData()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = folder.appendingPathComponent("m.safetensors")
    #expect(try Tool.run(["train", "--data", data.path, "--steps", "2", "--out", model.path]).status == 0)
    let dataBytes = try Data(contentsOf: data), modelBytes = try Data(contentsOf: model)
    // The same file spelled differently still counts.
    let respelled = folder.appendingPathComponent(".").appendingPathComponent("data.safetensors").path
    for arguments in [
        ["train", "--data", data.path, "--steps", "2", "--out", respelled],
        ["train", "--data", data.path, "--init", model.path, "--steps", "2", "--out", model.path],
        ["predict", "--model", model.path, "--data", data.path, "--out", model.path]
    ] {
        let run = try Tool.run(arguments)
        #expect(run.status == 2, "\(arguments)")
        #expect(run.standardError.contains("is also an input of this command"), "\(run.standardError)")
    }
    #expect(try Data(contentsOf: data) == dataBytes)
    #expect(try Data(contentsOf: model) == modelBytes)
}

@Test func divergedTrainingWritesNoModel() throws {
    let (folder, data) = try folderWithRegressionData()
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("m.safetensors")
    // Weight decay 3e38 times learning rate 3e38 sends every nonzero weight to infinity.
    let run = try Tool.run([
        "train", "--data", data.path, "--optimizer", "sgd", "--lr", "3e38", "--weight-decay", "3e38",
        "--steps", "1", "--out", out.path
    ])
    #expect(run.status == 1)
    #expect(run.standardError.contains("training diverged"), "\(run.standardError)")
    #expect(!FileManager.default.fileExists(atPath: out.path))
}

/// Each epoch cuts the text at its own offset, so epochs differ in their
/// window count; a mini-batch must not carry rows of one into the next.
@Test func textTrainingCrossesEpochsWithDifferentWindows() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = folder.appendingPathComponent("fox.txt")
    try Data(String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 3).utf8).write(to: text)
    let run = try Tool.run([
        "train", "--data", text.path, "--seq-len", "60", "--val-split", "0", "--hidden", "8",
        "--steps", "40", "--seed", "6", "--no-plot", "--out", folder.appendingPathComponent("m.safetensors").path
    ])
    #expect(run.status == 0, "\(run.standardError)")
    // Twelve characters make one window of ten, whatever the epoch's offset.
    let short = folder.appendingPathComponent("short.txt")
    try Data("abcdefghijkl".utf8).write(to: short)
    let shortRun = try Tool.run([
        "train", "--data", short.path, "--seq-len", "10", "--val-split", "0", "--hidden", "8",
        "--steps", "5", "--no-plot", "--out", folder.appendingPathComponent("s.safetensors").path
    ])
    #expect(shortRun.status == 0, "\(shortRun.standardError)")
}

@Test func aSeasonLongerThanTheTrainingRowsLeavesOutTheBaseline() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let series = folder.appendingPathComponent("sales.csv")
    try writeMonthlySeries(to: series)
    let run = try Tool.run([
        "train", "--data", series.path, "--season", "100", "--steps", "3", "--json",
        "--out", folder.appendingPathComponent("m.safetensors").path
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let summary = try lastJSON(run)
    #expect(summary["seasonal_naive_mape"] == .null)
    #expect(number(summary["mape"]) != nil)
}

@Test func aCheckpointIsInspectedButNotTakenForAModel() throws {
    let (folder, data) = try folderWithRegressionData()
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("m.safetensors")
    #expect(
        try Tool.run(["train", "--data", data.path, "--steps", "2", "--checkpoint-every", "1", "--out", out.path])
            .status == 0)
    let checkpoint = folder.appendingPathComponent("m.checkpoint.safetensors")
    let inspect = try Tool.run(["inspect", "--model", checkpoint.path])
    #expect(inspect.status == 0, "\(inspect.standardError)")
    #expect(inspect.standardOutput.contains("rnn.weight_hh_l0"))
    let predict = try Tool.run([
        "predict", "--model", checkpoint.path, "--data", data.path,
        "--out", folder.appendingPathComponent("p.safetensors").path
    ])
    #expect(predict.status == 1)
    #expect(predict.standardError.contains("training checkpoint, not a model file"), "\(predict.standardError)")
}

/// A checkpoint's recorded position is data too: an edited one is refused,
/// not used to index the data set or seed its shuffle.
@Test func aCheckpointWithAnImpossiblePositionIsRefused() throws {
    let (folder, data) = try folderWithRegressionData()
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("m.safetensors")
    let arguments = ["train", "--data", data.path, "--steps", "4", "--out", out.path]
    #expect(try Tool.run(arguments + ["--checkpoint-every", "2"]).status == 0)
    let checkpoint = folder.appendingPathComponent("m.checkpoint.safetensors")
    for (key, value) in [("progress.cursor", "-3"), ("progress.epoch", "9223372036854775807")] {
        var file = try SafetensorsFile(contentsOf: checkpoint)
        file.metadata[key] = value
        let edited = folder.appendingPathComponent("edited.safetensors")
        try file.write(to: edited)
        let run = try Tool.run(arguments + ["--resume", edited.path])
        #expect(run.status == 2, "\(key)")
        #expect(run.standardError.contains("progress '\(key.dropFirst(9))' is '\(value)'"), "\(run.standardError)")
    }
}
