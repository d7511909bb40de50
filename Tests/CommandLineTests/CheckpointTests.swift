import Foundation
import Testing
import RNNKit

/// Starts `rnnkit` without waiting for it; its stderr goes to `errors` when given.
func launch(_ arguments: [String], errors: Pipe? = nil) throws -> Process {
    let process = Process()
    process.executableURL = Tool.executable
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors ?? FileHandle.nullDevice
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

/// Trains with `common` (which sets `--steps`) straight through, then again
/// checkpointing every step, killed with `kill -9` at a random moment once
/// under way and resumed: the resumed model must have the straight run's
/// bits. Returns the checkpoint the killed run left.
@discardableResult
private func expectResumeAfterKillNineMatchesTheStraightRun(_ common: [String], steps: Int, in folder: URL) throws
    -> Checkpoint
{
    let straight = folder.appendingPathComponent("straight.safetensors")
    let reference = try Tool.run(common + ["--out", straight.path])
    #expect(reference.status == 0, "\(reference.standardError)")

    let checkpoint = folder.appendingPathComponent("run.checkpoint.safetensors")
    let resumed = folder.appendingPathComponent("resumed.safetensors")
    let interrupted = try launch(
        common + ["--out", resumed.path, "--checkpoint", checkpoint.path, "--checkpoint-every", "1"])
    // Kill it at a random moment once it is under way.
    var generator = SystemRandomNumberGenerator()
    let threshold = Int.random(in: 20...200, using: &generator)
    let deadline = Date().addingTimeInterval(120)
    while interrupted.isRunning, (checkpointStep(checkpoint) ?? 0) < threshold, Date() < deadline { usleep(2_000) }
    usleep(UInt32.random(in: 0...20_000, using: &generator))
    kill(interrupted.processIdentifier, SIGKILL)
    interrupted.waitUntilExit()
    let saved = try #require(try? Checkpoint(contentsOf: checkpoint), "a checkpoint must survive kill -9 whole")
    let savedStep = try #require(Int(saved.progress["step"] ?? ""))
    #expect(savedStep >= 1 && savedStep < steps, "the run must be killed part-way")

    let finish = try Tool.run(common + ["--out", resumed.path, "--resume", checkpoint.path])
    #expect(finish.status == 0, "\(finish.standardError)")
    #expect(try parameters(of: resumed) == parameters(of: straight))
    return saved
}

@Test func resumingAfterKillNineGivesTheUninterruptedResult() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 48, timeSteps: 8)
    try expectResumeAfterKillNineMatchesTheStraightRun(
        [
            "train", "--data", data.path, "--cell", "lstm", "--hidden", "12", "--steps", "3000", "--batch", "8",
            "--seed", "5", "--optimizer", "adam", "--lr", "0.01", "--clip", "1", "--no-plot"
        ], steps: 3000, in: folder)
}

/// The main job, a character model on a text file: each epoch cuts the text
/// at its own offset and shuffles the windows, and the run spans many epochs,
/// so the resumed run must restore the epoch as well as the position in it.
@Test func resumingATextRunAfterKillNineGivesTheUninterruptedResult() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = folder.appendingPathComponent("corpus.txt")
    var generator = SeededGenerator(seed: 21)
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "off", "to", "sea,", "home."]
    let corpus = (0..<400).map { index in
        words[Int(generator.next() % UInt64(words.count))] + (index % 12 == 11 ? "\n" : " ")
    }
    try corpus.joined().write(to: text, atomically: true, encoding: .utf8)
    // About 110 windows of 16 characters: 7 steps of 16 windows per epoch.
    let saved = try expectResumeAfterKillNineMatchesTheStraightRun(
        [
            "train", "--data", text.path, "--cell", "lstm", "--hidden", "8", "--seq-len", "16", "--steps", "600",
            "--batch", "16", "--seed", "3", "--lr", "0.01", "--no-plot", "--json"
        ], steps: 600, in: folder)
    #expect(Int(saved.progress["epoch"] ?? "").map { $0 >= 1 } == true, "the run must be killed after its first epoch")
}

/// SIGINT and SIGTERM: training finishes its step, writes a checkpoint,
/// prints one line and exits with 128 + the signal; resuming from that
/// checkpoint gives the bits of a run that was never interrupted.
@Test(arguments: [SIGINT, SIGTERM])
func interruptSavesACheckpointAndExitsCleanly(signal: Int32) throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 48, timeSteps: 8)
    let out = folder.appendingPathComponent("model.safetensors")
    let checkpoint = folder.appendingPathComponent("model.checkpoint.safetensors")
    // --json keeps the progress lines off stderr, which then holds the signal's line alone.
    let common = ["train", "--data", data.path, "--hidden", "12", "--batch", "8", "--json", "--no-plot"]
    let error = Pipe()
    let process = try launch(
        common + ["--steps", "100000", "--out", out.path, "--checkpoint-every", "5"], errors: error)
    let deadline = Date().addingTimeInterval(120)
    while (checkpointStep(checkpoint) ?? 0) < 10, Date() < deadline { usleep(5_000) }
    kill(process.processIdentifier, signal)
    let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
    #expect(process.terminationStatus == 128 + signal)
    #expect(
        message.contains("interrupted by \(name); saved a checkpoint") && message.split(separator: "\n").count == 1,
        "\(message)")
    let savedStep = try #require(checkpointStep(checkpoint))
    #expect(savedStep >= 10)
    #expect(!FileManager.default.fileExists(atPath: out.path), "an interrupted run writes a checkpoint, not a model")

    // The step budget is not part of what a resumed run must repeat: finish
    // a little past the interruption, and compare with a straight run there.
    let steps = ["--steps", String(savedStep + 20)]
    let resume = try Tool.run(common + steps + ["--out", out.path, "--resume", checkpoint.path])
    #expect(resume.status == 0, "\(resume.standardError)")
    let straight = folder.appendingPathComponent("straight.safetensors")
    let reference = try Tool.run(common + steps + ["--out", straight.path])
    #expect(reference.status == 0, "\(reference.standardError)")
    #expect(try parameters(of: out) == parameters(of: straight))
}

@Test func divergenceStopsWithAClearErrorAndKeepsTheCheckpoint() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 16, timeSteps: 4)
    let checkpoint = folder.appendingPathComponent("good.checkpoint.safetensors")
    let out = folder.appendingPathComponent("model.safetensors")
    // A relu RNN with a huge learning rate overflows after a few steps.
    let run = try Tool.run([
        "train", "--data", data.path, "--cell", "rnn_relu", "--hidden", "16", "--steps", "500",
        "--batch", "16", "--optimizer", "sgd", "--lr", "1e6", "--checkpoint", checkpoint.path,
        "--checkpoint-every", "1", "--max-bad-steps", "3", "--out", out.path
    ])
    #expect(run.status == 1)
    #expect(run.standardError.contains("training diverged: 3 consecutive steps"), "\(run.standardError)")
    let saved = try Checkpoint(contentsOf: checkpoint).model()
    #expect(saved.parameterNames.allSatisfy { saved.parameter($0)!.allSatisfy(\.isFinite) })
}
