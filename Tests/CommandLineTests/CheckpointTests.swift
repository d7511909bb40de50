import Foundation
import Testing
import RNNKit

/// Starts `rnnkit` without waiting for it.
func launch(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = Tool.executable
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// The step a checkpoint file records, or nil while there is none.
func checkpointStep(_ url: URL) -> Int? {
    guard let checkpoint = try? Checkpoint(contentsOf: url) else { return nil }
    return Int(checkpoint.progress["step"] ?? "")
}

func parameters(of url: URL) throws -> [String: [UInt32]] {
    let model = try Model(contentsOf: url)
    return Dictionary(uniqueKeysWithValues: model.parameterNames.map { ($0, model.parameter($0)!.map(\.bitPattern)) })
}

@Test func resumingAfterKillNineGivesTheUninterruptedResult() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 48, timeSteps: 8)
    let common = ["train", "--data", data.path, "--cell", "lstm", "--hidden", "12", "--steps", "3000", "--batch", "8",
                  "--seed", "5", "--optimizer", "adam", "--lr", "0.01", "--clip", "1", "--no-plot"]
    let straight = folder.appendingPathComponent("straight.safetensors")
    let reference = try Tool.run(common + ["--out", straight.path])
    #expect(reference.status == 0, "\(reference.standardError)")

    let checkpoint = folder.appendingPathComponent("run.checkpoint.safetensors")
    let resumed = folder.appendingPathComponent("resumed.safetensors")
    let interrupted = try launch(common + ["--out", resumed.path, "--checkpoint", checkpoint.path, "--checkpoint-every", "1"])
    // Kill it at a random moment once it is under way.
    var generator = SystemRandomNumberGenerator()
    let threshold = Int.random(in: 20...200, using: &generator)
    let deadline = Date().addingTimeInterval(120)
    while interrupted.isRunning, (checkpointStep(checkpoint) ?? 0) < threshold, Date() < deadline { usleep(2_000) }
    usleep(UInt32.random(in: 0...20_000, using: &generator))
    kill(interrupted.processIdentifier, SIGKILL)
    interrupted.waitUntilExit()
    let savedStep = try #require(checkpointStep(checkpoint), "a checkpoint must survive kill -9 whole")
    #expect(savedStep >= 1 && savedStep < 3000, "the run must be killed part-way")

    let finish = try Tool.run(common + ["--out", resumed.path, "--resume", checkpoint.path])
    #expect(finish.status == 0, "\(finish.standardError)")
    #expect(try parameters(of: resumed) == parameters(of: straight))
}

@Test func interruptSavesACheckpointAndExitsCleanly() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 48, timeSteps: 8)
    let out = folder.appendingPathComponent("model.safetensors")
    let checkpoint = folder.appendingPathComponent("model.checkpoint.safetensors")
    let process = Process()
    process.executableURL = Tool.executable
    process.arguments = ["train", "--data", data.path, "--hidden", "12", "--steps", "100000", "--batch", "8",
                         "--out", out.path, "--checkpoint-every", "5"]
    let error = Pipe()
    process.standardError = error
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(120)
    while (checkpointStep(checkpoint) ?? 0) < 10, Date() < deadline { usleep(5_000) }
    kill(process.processIdentifier, SIGINT)
    let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 128 + SIGINT)
    #expect(message.contains("interrupted by SIGINT"), "\(message)")
    #expect(checkpointStep(checkpoint).map { $0 >= 10 } == true)
    #expect(!FileManager.default.fileExists(atPath: out.path), "an interrupted run writes a checkpoint, not a model")
}

@Test func divergenceStopsWithAClearErrorAndKeepsTheCheckpoint() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 16, timeSteps: 4)
    let checkpoint = folder.appendingPathComponent("good.checkpoint.safetensors")
    let out = folder.appendingPathComponent("model.safetensors")
    // A relu RNN with a huge learning rate overflows after a few steps.
    let run = try Tool.run(["train", "--data", data.path, "--cell", "rnn_relu", "--hidden", "16", "--steps", "500",
                            "--batch", "16", "--optimizer", "sgd", "--lr", "1e6", "--checkpoint", checkpoint.path,
                            "--checkpoint-every", "1", "--max-bad-steps", "3", "--out", out.path])
    #expect(run.status == 1)
    #expect(run.standardError.contains("training diverged: 3 consecutive steps"), "\(run.standardError)")
    let saved = try Checkpoint(contentsOf: checkpoint).model()
    #expect(saved.parameterNames.allSatisfy { saved.parameter($0)!.allSatisfy(\.isFinite) })
}
