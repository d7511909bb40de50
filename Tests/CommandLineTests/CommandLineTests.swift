import Foundation
import Testing
import RNNKit

/// Runs the `rnnkit` executable built beside the tests.
struct Tool {
    struct Outcome {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    static let executable = Bundle.main.bundleURL.appendingPathComponent("rnnkit")

    /// Runs the tool; `environment` adds to (or overrides) this process's variables.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self))
    }
}

/// A fresh temporary folder per test.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("rnnkit-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A small regression data set: the running sum of the first feature.
func writeRegressionData(to url: URL, count: Int = 24, timeSteps: Int = 5, features: Int = 2) throws {
    var generator = SeededGenerator(seed: 9)
    let inputs = (0..<count * timeSteps * features).map { _ in generator.uniform(-1, 1) }
    var targets = [Float](repeating: 0, count: count * timeSteps)
    for row in 0..<count {
        var sum: Float = 0
        for step in 0..<timeSteps {
            sum += inputs[(row * timeSteps + step) * features]
            targets[row * timeSteps + step] = sum
        }
    }
    let lengths = (0..<count).map { Int64(2 + $0 % (timeSteps - 1)) }
    try SafetensorsFile(tensors: [
        "inputs": Tensor(floats: inputs, shape: [count, timeSteps, features]),
        "targets": Tensor(floats: targets, shape: [count, timeSteps, 1]),
        "lengths": Tensor(int64: lengths, shape: [count])
    ]).write(to: url)
}

@Test func trainPredictAndInspectRoundTrip() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)
    let model = folder.appendingPathComponent("model.safetensors")
    let train = try Tool.run([
        "train", "--data", data.path, "--cell", "gru", "--hidden", "8", "--steps", "30",
        "--batch", "24", "--optimizer", "adam", "--lr", "0.02", "--out", model.path, "--json"
    ])
    #expect(train.status == 0, "\(train.standardError)")
    let summary = try JSONValue(parsing: String(train.standardOutput.split(separator: "\n").last ?? ""))
    #expect(summary.objectValue?["steps"]?.integerValue == 30)
    #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.loss.svg").path))

    // More steps from the saved model, in data set order with plain SGD.
    let tuned = folder.appendingPathComponent("tuned.safetensors")
    let more = try Tool.run([
        "train", "--init", model.path, "--data", data.path, "--steps", "3", "--batch", "8",
        "--no-shuffle", "--optimizer", "sgd", "--lr", "0.01", "--clip", "0", "--out", tuned.path
    ])
    #expect(more.status == 0, "\(more.standardError)")
    #expect(try Model(contentsOf: tuned).configuration.cell == .gru)

    let predictions = folder.appendingPathComponent("predictions.safetensors")
    let predict = try Tool.run(["predict", "--model", tuned.path, "--data", data.path, "--out", predictions.path])
    #expect(predict.status == 0, "\(predict.standardError)")
    let outputs = try SafetensorsFile(contentsOf: predictions).tensor("outputs")
    #expect(outputs.shape == [24, 5, 1])

    // New data has no targets: the same inputs without them predict the same outputs.
    var unlabelled = try SafetensorsFile(contentsOf: data)
    unlabelled.tensors["targets"] = nil
    let inputsOnly = folder.appendingPathComponent("inputs.safetensors")
    try unlabelled.write(to: inputsOnly)
    let fromInputs = folder.appendingPathComponent("from-inputs.safetensors")
    let predictInputs = try Tool.run([
        "predict", "--model", tuned.path, "--data", inputsOnly.path, "--out", fromInputs.path
    ])
    #expect(predictInputs.status == 0, "\(predictInputs.standardError)")
    #expect(try SafetensorsFile(contentsOf: fromInputs).tensor("outputs") == outputs)

    let inspect = try Tool.run(["inspect", "--model", tuned.path])
    #expect(inspect.standardOutput.contains("rnn.weight_hh_l0") && inspect.standardOutput.contains("[24, 8]"))
}

@Test func sgdRunMatchesTheLibrary() throws {
    // `train --no-shuffle --optimizer sgd` must be exactly Trainer.step over consecutive mini-batches.
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)
    let start = folder.appendingPathComponent("start.safetensors")
    let configuration = ModelConfiguration(
        cell: .lstm, input: .dense(features: 2), hiddenSize: 6, outputSize: 1, topology: .manyToMany)
    try Model(configuration, seed: 3).write(to: start)
    let out = folder.appendingPathComponent("out.safetensors")
    let run = try Tool.run([
        "train", "--init", start.path, "--data", data.path, "--steps", "4", "--batch", "10",
        "--no-shuffle", "--optimizer", "sgd", "--lr", "0.05", "--clip", "0", "--threads", "2",
        "--out", out.path
    ])
    #expect(run.status == 0, "\(run.standardError)")

    let model = try Model(contentsOf: start)
    let batch = try TensorDataset(contentsOf: data).batch
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0.05), threads: 1)
    // Batches of 10 from 24 rows: an epoch ends with a batch of the 4 left over.
    for rows in [0..<10, 10..<20, 20..<24, 0..<10] { try trainer.step(batch, rows: Array(rows)) }
    let trained = try Model(contentsOf: out)
    for name in model.parameterNames {
        #expect(trained.parameter(name)!.map(\.bitPattern) == model.parameter(name)!.map(\.bitPattern), "\(name)")
    }
}

@Test(arguments: [
    (["train", "--steps", "0"], Int32(2), "--steps"),
    (["train", "--data", "/nonexistent/data.safetensors"], 1, "/nonexistent/data.safetensors"),
    (["train", "--bogus"], 2, "unknown option '--bogus'"),
    (["predict", "--data", "x.safetensors"], 2, "--model is required"),
    (["frobnicate"], 2, "unknown subcommand"),
    (["train", "--optimizer", "rmsprop"], 2, "sgd, adam"),
    // Values whose arithmetic would overflow, or that a Float cannot hold.
    (["train", "--epochs", "9223372036854775807"], 2, "--epochs expects an integer in 1...2147483648"),
    (["train", "--seq-len", "9223372036854775807"], 2, "--seq-len expects an integer"),
    (
        ["forecast", "--model", "m.safetensors", "--data", "x.csv", "--steps", "9223372036854775807"], 2,
        "--steps expects an integer in 1...1000000"
    ),
    (["train", "--threads", "4096"], 2, "--threads expects an integer in 1...256"),
    (["train", "--lr", "1e300"], 2, "--lr expects a number")
])
func badInputGivesOneClearLine(arguments: [String], status: Int32, message: String) throws {
    let outcome = try Tool.run(arguments)
    #expect(outcome.status == status)
    let lines = outcome.standardError.split(separator: "\n")
    #expect(lines.count == 1, "\(outcome.standardError)")
    #expect(outcome.standardError.contains(message), "\(outcome.standardError)")
}

@Test func failuresLeaveNoOutputFile() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)
    // A model whose input width does not fit the data: refused before training.
    let wrong = folder.appendingPathComponent("wrong.safetensors")
    try Model(
        ModelConfiguration(
            cell: .gru, input: .dense(features: 3), hiddenSize: 4, outputSize: 1,
            topology: .manyToMany), seed: 1
    ).write(to: wrong)
    let out = folder.appendingPathComponent("out.safetensors")
    let mismatch = try Tool.run(["train", "--init", wrong.path, "--data", data.path, "--out", out.path])
    #expect(mismatch.status == 1)
    #expect(mismatch.standardError.contains("3 input features"))
    // A corrupt model file.
    let corrupt = folder.appendingPathComponent("corrupt.safetensors")
    try Data([1, 2, 3]).write(to: corrupt)
    let bad = try Tool.run(["predict", "--model", corrupt.path, "--data", data.path, "--out", out.path])
    #expect(bad.status == 1)
    // An output folder that does not exist.
    let missing = folder.appendingPathComponent("no/such/folder/model.safetensors")
    let unwritable = try Tool.run(["train", "--data", data.path, "--steps", "1", "--out", missing.path])
    #expect(unwritable.status == 2)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    #expect(leftovers == ["corrupt.safetensors", "data.safetensors", "wrong.safetensors"])
}

@Test func helpAnswersForEverySubcommand() throws {
    for command in ["train", "eval", "forecast", "sample", "predict", "inspect"] {
        let outcome = try Tool.run([command, "--help"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("Usage: rnnkit \(command)"))
    }
    let overview = try Tool.run(["--help"])
    #expect(overview.standardOutput.contains("Subcommands"))
}

@Test func trainsABareStackWhenAskedAndExplainsAWidthMismatch() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data.safetensors")
    try writeRegressionData(to: data)  // one target per step
    let model = folder.appendingPathComponent("bare.safetensors")
    let mismatch = try Tool.run([
        "train", "--data", data.path, "--no-head", "--hidden", "8", "--steps", "2", "--out", model.path
    ])
    #expect(mismatch.status != 0)
    #expect(mismatch.standardError.contains("without a head"), "\(mismatch.standardError)")
    #expect(!FileManager.default.fileExists(atPath: model.path))
    let bare = try Tool.run([
        "train", "--data", data.path, "--no-head", "--hidden", "1", "--steps", "2", "--out", model.path
    ])
    #expect(bare.status == 0, "\(bare.standardError)")
    let loaded = try Model(contentsOf: model)
    #expect(loaded.configuration.head == .identity)
    #expect(!loaded.parameterNames.contains { $0.hasPrefix("head.") })
}
