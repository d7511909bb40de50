import Foundation
import Testing
import RNNKernels
import RNNKit

// RNNKIT_ISA and RNNKIT_KERNELS as a user meets them: through the tool, in a
// child process whose environment they set.

@Suite struct KernelSelectionTests {
    /// Trains a small LSTM whose hidden size has generated kernels and
    /// returns the saved weights.
    private func trainedWeights(environment: [String: String], in folder: URL) throws -> [String: [Float]] {
        let data = folder.appendingPathComponent("data.safetensors")
        if !FileManager.default.fileExists(atPath: data.path) { try writeRegressionData(to: data) }
        let model = folder.appendingPathComponent("model-\(UUID().uuidString).safetensors")
        let run = try Tool.run(
            [
                "train", "--data", data.path, "--cell", "lstm", "--hidden", "32", "--steps", "6",
                "--batch", "12", "--optimizer", "adam", "--lr", "0.01", "--seed", "3",
                "--out", model.path
            ], environment: environment)
        try #require(run.status == 0, "\(environment): \(run.standardError)")
        let file = try SafetensorsFile(contentsOf: model)
        var weights: [String: [Float]] = [:]
        for name in file.names { weights[name] = try file.tensor(name).floats() }
        return weights
    }

    @Test func generatedAndGenericKernelsTrainToTheSameBits() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for instructionSet in KernelSelection.runnableInstructionSets {
            let specialized = try trainedWeights(environment: ["RNNKIT_ISA": instructionSet.rawValue], in: folder)
            let generic = try trainedWeights(
                environment: [
                    "RNNKIT_ISA": instructionSet.rawValue,
                    "RNNKIT_KERNELS": "generic"
                ], in: folder)
            #expect(specialized == generic, "\(instructionSet)")
        }
    }

    @Test func everyInstructionSetTrainsTheSameModel() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let runs = try KernelSelection.runnableInstructionSets.map {
            ($0, try trainedWeights(environment: ["RNNKIT_ISA": $0.rawValue], in: folder))
        }
        guard let (_, reference) = runs.first else { return }
        for (instructionSet, weights) in runs.dropFirst() {
            #expect(Set(weights.keys) == Set(reference.keys))
            for (name, values) in weights {
                let expected = reference[name] ?? []
                let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? 0
                // Six Adam steps from the same start: only rounding differs
                // (FMA or not, vector widths in sums).
                #expect(values.count == expected.count && worst < 1e-4, "\(instructionSet) \(name): \(worst)")
            }
        }
    }

    @Test func anUnknownOrUnrunnableInstructionSetIsRefused() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data.safetensors")
        try writeRegressionData(to: data)
        var refused = [("RNNKIT_ISA", "sse9"), ("RNNKIT_KERNELS", "fastest")]
        // AVX-512 on a CPU without it, or x86-64's variants on arm64.
        if let unrunnable = InstructionSet.allCases.first(where: {
            !KernelSelection.runnableInstructionSets.contains($0)
        }) {
            refused.append(("RNNKIT_ISA", unrunnable.rawValue))
        }
        for (name, value) in refused {
            let model = folder.appendingPathComponent("model.safetensors")
            let run = try Tool.run(
                ["train", "--data", data.path, "--steps", "1", "--out", model.path],
                environment: [name: value])
            #expect(run.status != 0)
            #expect(run.standardError.contains("\(name)=\(value)"), "\(run.standardError)")
            #expect(!FileManager.default.fileExists(atPath: model.path))
        }
    }
}
