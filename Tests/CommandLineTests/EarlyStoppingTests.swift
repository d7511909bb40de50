import Foundation
import Testing
import RNNKit

// `train --early-stop N [--restore-best]`: accepted where a run has validation
// data, refused clearly where it has none.

@Test func earlyStoppingNeedsValidationData() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let tensors = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: tensors)
    let series = folder.appendingPathComponent("series.csv")
    let rows = (1...40).map { "\($0),\(Double($0 % 7) + 10)" }
    try Data(("t,v\n" + rows.joined(separator: "\n")).utf8).write(to: series)
    let classes = folder.appendingPathComponent("Tiny_TRAIN.ts")
    try writeTimeSeriesSet(to: classes, count: 16, seed: 5)
    let text = folder.appendingPathComponent("text.txt")
    try Data(String(repeating: "to be or not to be, that is the question. ", count: 20).utf8).write(to: text)
    let out = ["--out", folder.appendingPathComponent("m.safetensors").path]
    let cases: [([String], String)] = [
        (
            ["--data", tensors.path, "--early-stop", "2"],
            "--early-stop needs validation data, and a tensor data set has none"
        ),
        (
            ["--data", series.path, "--early-stop", "2"],
            "--early-stop needs validation data: forecasting holds out only the test values"
        ),
        (
            ["--data", classes.path, "--val-split", "0", "--early-stop", "2"],
            "--early-stop needs validation data: give --val-split X"
        ),
        (
            ["--data", text.path, "--val-split", "0", "--early-stop", "2"],
            "--early-stop needs validation data: give --val-split X"
        ),
        (["--data", classes.path, "--restore-best"], "--restore-best applies with --early-stop N"),
        (["--data", text.path, "--early-stop", "0"], "--early-stop expects an integer in 1...")
    ]
    for (arguments, message) in cases {
        let run = try Tool.run(["train"] + arguments + out)
        #expect(run.status == 2, "\(arguments)")
        #expect(run.standardError.contains(message), "\(arguments): \(run.standardError)")
    }
}

@Test func earlyStoppingReportsTheBestRound() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let classes = folder.appendingPathComponent("Tiny_TRAIN.ts")
    try writeTimeSeriesSet(to: classes, count: 24, seed: 5)
    let out = folder.appendingPathComponent("m.safetensors")
    let arguments = [
        "train", "--data", classes.path, "--hidden", "4", "--steps", "60", "--threads", "1", "--out", out.path,
        "--early-stop", "1", "--restore-best"
    ]
    let json = try Tool.run(arguments + ["--json"])
    #expect(json.status == 0, "\(json.standardError)")
    let summary = try lastJSON(json)
    let best = try #require(summary["best_step"]?.integerValue)
    #expect((1...60).contains(best))
    #expect(number(summary["best_val_loss"]).map(\.isFinite) == true)
    let steps = try #require(summary["steps"]?.integerValue)
    switch summary["stopped_early"] {
    case .bool(true)?: #expect(steps < 60)
    case .bool(false)?: #expect(steps == 60)
    default: Issue.record("stopped_early is \(String(describing: summary["stopped_early"]))")
    }

    let plain = try Tool.run(arguments)
    #expect(plain.status == 0, "\(plain.standardError)")
    #expect(plain.standardOutput.contains("the best validation loss"), "\(plain.standardOutput)")
    #expect(
        plain.standardOutput.contains("at step \(best): kept its weights (--restore-best)"), "\(plain.standardOutput)")
}
