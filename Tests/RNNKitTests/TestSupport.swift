import Testing
import Foundation
@testable import RNNKit

/// Builds small random batches that fit a configuration, for gradient and
/// determinism tests.
struct BatchFactory {
    var generator: SeededGenerator

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    mutating func batch(
        for c: ModelConfiguration, count: Int, timeSteps: Int, variableLengths: Bool,
        decoderTimeSteps: Int = 0, classes: Bool = false
    ) -> SequenceBatch {
        let vectorInput = c.topology == .oneToOne || c.topology == .oneToMany
        let steps = c.topology == .oneToOne ? 1 : timeSteps
        let lengths: [Int32]? =
            variableLengths && !vectorInput
            ? (0..<count).map { $0 == 0 ? Int32(steps) : Int32(1 + Int(generator.next() % UInt64(steps))) } : nil
        let inputSteps = vectorInput ? 1 : steps
        let inputs: SequenceBatch.Inputs
        if let vocabulary = c.vocabularySize {
            inputs = .tokens((0..<count * inputSteps).map { _ in Int32(generator.next() % UInt64(vocabulary)) })
        } else {
            inputs = .features((0..<count * inputSteps * c.input.rnnInputSize).map { _ in generator.uniform(-1, 1) })
        }
        let decoderInputs: [Float]? =
            c.topology == .encoderDecoder
            ? (0..<count * decoderTimeSteps * c.input.rnnInputSize).map { _ in generator.uniform(-1, 1) } : nil
        let outputSteps = c.topology == .encoderDecoder ? decoderTimeSteps : steps
        let positions = c.topology.outputsPerStep ? count * outputSteps : count
        let targets: SequenceBatch.Targets =
            classes
            ? .classes((0..<positions).map { _ in Int32(generator.next() % UInt64(c.outputSize)) })
            : .values((0..<positions * c.outputSize).map { _ in generator.uniform(-1, 1) })
        return SequenceBatch(
            count: count, timeSteps: steps, inputs: inputs, lengths: lengths,
            decoderInputs: decoderInputs, decoderTimeSteps: decoderTimeSteps, targets: targets)
    }
}

/// Every parameter tensor of `model`, in the model's order.
func weights(_ model: Model) -> [[Float]] { model.parameterNames.map { model.parameter($0)! } }

extension Model {
    /// Scales every parameter so that gradients are not tiny in small tests.
    func scaleParameters(by factor: Float) {
        for index in 0..<layout.totalCount { parameters.baseAddress[index] *= factor }
        parametersChanged()
    }
}

/// Loads every `*.ext` file in `folder` and expects the error `expected`
/// names for it (keyed by file name without the extension).
func replayMalformedFixtures(
    in folder: URL, extension ext: String, expected: [String: (String) -> DatasetError],
    load: (URL) throws -> Void
) throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(ext) }.sorted()
    #expect(files.count == expected.count)
    for file in files {
        let url = folder.appendingPathComponent(file)
        guard let error = expected[String(file.dropLast(ext.count))] else {
            Issue.record("fixture \(file) has no expected error in this test")
            continue
        }
        #expect(throws: error(url.path)) { try load(url) }
    }
}

/// Feeds `parse` 3000 seeded mutations of `original` (with the iteration
/// number): each must parse, passing the closure's own checks, or throw a
/// `DatasetError` that says something; a good share must do each.
func expectParsesOrRefuses(
    _ original: [UInt8], seed: UInt64, parse: (_ iteration: Int, _ bytes: [UInt8]) throws -> Void
) {
    var mutator = ByteMutator(seed: seed)
    var (parsed, refused) = (0, 0)
    for iteration in 0..<3000 {
        do {
            try parse(iteration, mutator.mutate(original))
            parsed += 1
        } catch {
            refused += 1
            #expect(error is DatasetError && !String(describing: error).isEmpty, "\(error)")
        }
    }
    #expect(parsed > 100 && refused > 100, "parsed \(parsed), refused \(refused)")
}

func expectParsesOrRefuses(_ original: [UInt8], seed: UInt64, parse: (_ bytes: [UInt8]) throws -> Void) {
    expectParsesOrRefuses(original, seed: seed) { _, bytes in try parse(bytes) }
}
