import Foundation
import Testing
import RNNKit

/// Trains with `common` straight through, and again checkpointing every
/// `every` steps then resuming from the last checkpoint (part-way, since the
/// run's steps are not a multiple of `every`): the resumed model must have
/// the straight run's bits. Returns the checkpoint it resumed from.
private func expectResumedRunMatchesTheStraightRun(_ common: [String], every: Int, in folder: URL) throws -> Checkpoint
{
    let straight = folder.appendingPathComponent("straight.safetensors")
    let reference = try Tool.run(common + ["--out", straight.path])
    #expect(reference.status == 0, "\(reference.standardError)")

    let checkpoint = folder.appendingPathComponent("run.checkpoint.safetensors")
    let resumed = folder.appendingPathComponent("resumed.safetensors")
    let first = try Tool.run(
        common + ["--out", resumed.path, "--checkpoint", checkpoint.path, "--checkpoint-every", String(every)])
    #expect(first.status == 0, "\(first.standardError)")
    let saved = try Checkpoint(contentsOf: checkpoint)
    try FileManager.default.removeItem(at: resumed)
    let finish = try Tool.run(common + ["--out", resumed.path, "--resume", checkpoint.path])
    #expect(finish.status == 0, "\(finish.standardError)")
    #expect(try parameters(of: resumed) == parameters(of: straight))
    return saved
}

@Test func adamWWithWarmUpAndCosineResumesFromItsCheckpoint() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 24, timeSteps: 5)
    let saved = try expectResumedRunMatchesTheStraightRun(
        [
            "train", "--data", data.path, "--hidden", "6", "--steps", "12", "--batch", "8", "--seed", "2",
            "--optimizer", "adamw",
            "--lr", "0.01", "--schedule", "cosine", "--warmup", "2", "--no-plot", "--json"
        ], every: 5, in: folder)
    #expect(saved.progress["step"] == "10")
    #expect(saved.file.metadata["optimizer"] == "adamw(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)")
    #expect(saved.file.metadata["schedule"] == "cosine(steps=12, warmup=2)")
    // After 10 of 12 steps: the cosine (T_max 12, the run's steps) from milestone 2, at its 8th step.
    let rate = Double(Float(0.01)) * (1 + cos(Double.pi * 8 / 12)) / 2
    let state = saved.file.metadata["schedule_state"] ?? ""
    let savedRate = state.split(separator: " ").first { $0.hasPrefix("lr=") }.flatMap { Double($0.dropFirst(3)) }
    #expect(savedRate.map { abs($0 - rate) <= 1e-15 } == true, "\(state)")
}

@Test func aPlateauScheduleStepsOncePerEpochAndResumesMidEpoch() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 20, timeSteps: 5)
    // 3 steps an epoch; the last checkpoint is at step 16, one step into epoch 6.
    let saved = try expectResumedRunMatchesTheStraightRun(
        [
            "train", "--data", data.path, "--hidden", "6", "--epochs", "6", "--batch", "8", "--seed", "4",
            "--optimizer", "sgd",
            "--momentum", "0.9", "--lr", "0.05", "--schedule", "plateau", "--patience", "0", "--factor", "0.5",
            "--no-plot", "--json"
        ],
        every: 4, in: folder)
    #expect(saved.progress["step"] == "16")
    #expect(saved.progress["epoch_loss_steps"] == "1")
    #expect(saved.file.metadata["schedule_state"]?.hasPrefix("epoch=5 ") == true, "\(saved.file.metadata)")
}

@Test func stepDecayTrainsAndTheOptimizerOptionsFollowTheOptimizer() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)
    let out = folder.appendingPathComponent("model.safetensors")
    let run = try Tool.run([
        "train", "--data", data.path, "--hidden", "6", "--steps", "6", "--optimizer", "adam", "--weight-decay", "0.001",
        "--schedule", "step", "--step-size", "2", "--gamma", "0.5", "--out", out.path, "--no-plot", "--json"
    ])
    #expect(run.status == 0, "\(run.standardError)")
    // A learning rate of zero from the start leaves the weights where they began.
    let frozen = folder.appendingPathComponent("frozen.safetensors")
    let initial = folder.appendingPathComponent("initial.safetensors")
    try Model(
        ModelConfiguration(
            cell: .lstm, input: .dense(features: 2), hiddenSize: 6, outputSize: 1, topology: .manyToMany), seed: 1
    )
    .write(to: initial)
    let still = try Tool.run([
        "train", "--data", data.path, "--init", initial.path, "--steps", "4", "--optimizer", "adamw",
        "--lr", "0", "--schedule", "cosine", "--warmup", "1", "--out", frozen.path, "--no-plot", "--json"
    ])
    #expect(still.status == 0, "\(still.standardError)")
    #expect(try parameters(of: frozen) == parameters(of: initial))
}

@Test(arguments: [
    (["train", "--optimizer", "adamw", "--momentum", "0.9"], "--momentum does not apply to adamw"),
    (["train", "--optimizer", "adam", "--momentum", "0.9"], "--momentum does not apply to adam"),
    (["train", "--warmup", "3"], "--warmup applies to --schedule cosine"),
    (["train", "--schedule", "step", "--patience", "2"], "--patience applies to --schedule plateau"),
    (["train", "--schedule", "cosine", "--steps", "10", "--gamma", "0.5"], "--gamma applies to --schedule step"),
    (["train", "--factor", "0.5"], "--factor applies to --schedule plateau"),
    (["train", "--schedule", "step"], "--schedule step needs --step-size"),
    (["train", "--schedule", "cosine"], "give --steps or --epochs"),
    (
        ["train", "--schedule", "cosine", "--steps", "5", "--warmup", "5"],
        "--warmup 5 must be shorter than the run's 5 steps"
    ),
    (["train", "--schedule", "plateau", "--factor", "1"], "--factor must be below 1"),
    (["train", "--schedule", "exponential"], "--schedule expects one of constant, step, cosine, plateau"),
    (["train", "--optimizer", "rmsprop"], "--optimizer expects one of sgd, adam, adamw")
])
func badOptimizerOrScheduleOptionsGiveOneClearLine(arguments: [String], message: String) throws {
    let outcome = try Tool.run(arguments + ["--hidden", "4"])
    #expect(outcome.status == 2)
    #expect(outcome.standardError.split(separator: "\n").count == 1, "\(outcome.standardError)")
    #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
}

@Test func helpListsTheOptimizersAndSchedules() throws {
    let help = try Tool.run(["train", "--help"])
    #expect(help.status == 0)
    for text in [
        "sgd, adam or adamw", "--schedule NAME", "--warmup N", "--step-size N", "--patience N", "--factor X",
        "CosineAnnealingLR(T_max=S, eta_min=0)", "ReduceLROnPlateau"
    ] {
        #expect(help.standardOutput.contains(text), "\(text)")
    }
}

@Test func accumulatingMiniBatchesTrainsTheBitsOfOneLargerBatch() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data, count: 100, timeSteps: 5)
    let common = ["train", "--data", data.path, "--hidden", "6", "--epochs", "2", "--seed", "3", "--no-plot", "--json"]
    let large = folder.appendingPathComponent("large.safetensors")
    let accumulated = folder.appendingPathComponent("accumulated.safetensors")
    let one = try Tool.run(common + ["--batch", "64", "--out", large.path])
    let two = try Tool.run(common + ["--batch", "32", "--accumulate", "2", "--out", accumulated.path])
    #expect(one.status == 0 && two.status == 0, "\(one.standardError)\(two.standardError)")
    // Two epochs of 100 rows: steps of 64 and 36.
    for run in [one, two] {
        let summary = try JSONValue(parsing: String(run.standardOutput.split(separator: "\n").last ?? ""))
        #expect(summary.objectValue?["steps"]?.integerValue == 4)
    }
    #expect(try parameters(of: accumulated) == parameters(of: large))
}

@Test func noBiasTrainsAModelWithoutRecurrentBiases() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)
    let out = folder.appendingPathComponent("model.safetensors")
    let run = try Tool.run([
        "train", "--data", data.path, "--cell", "gru", "--hidden", "6", "--layers", "2", "--steps", "5",
        "--no-bias", "--out", out.path, "--no-plot", "--json"
    ])
    #expect(run.status == 0, "\(run.standardError)")
    let file = try SafetensorsFile(contentsOf: out)
    #expect(file.metadata["bias"] == "false")
    #expect(file.tensors.keys.filter { $0.contains("bias") }.sorted() == ["head.bias"])
    #expect(try Model(contentsOf: out).configuration.bias == false)
    // --no-bias describes a fresh model; an --init model keeps what it has.
    let again = try Tool.run([
        "train", "--data", data.path, "--init", out.path, "--no-bias", "--steps", "1", "--out",
        folder.appendingPathComponent("again.safetensors").path
    ])
    #expect(again.status == 2 && again.standardError.contains("--no-bias"))
}
