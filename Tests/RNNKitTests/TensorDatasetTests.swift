import Foundation
import Testing

@testable import RNNKit

@Suite("TensorDataset")
struct TensorDatasetTests {
    /// N = 2 sequences, T = 3 steps, I = 2 features: inputs[n, t, i] = n·100 + t·10 + i.
    static let inputs: [Float] = {
        var values: [Float] = []
        for n in 0..<2 {
            for t in 0..<3 {
                for i in 0..<2 { values.append(Float(n * 100 + t * 10 + i)) }
            }
        }
        return values
    }()

    private func dataset(_ targets: TensorDataset.Targets, lengths: [Int32]? = nil) throws -> TensorDataset {
        try TensorDataset(
            inputs: Self.inputs, count: 2, timeSteps: 3, inputSize: 2, targets: targets, lengths: lengths)
    }

    /// A file with the given tensors, as the data set reader sees it.
    private func file(_ tensors: [String: Tensor]) -> SafetensorsFile {
        SafetensorsFile(tensors: tensors, source: "data.safetensors")
    }

    private var validInputs: Tensor { Tensor(floats: Self.inputs, shape: [2, 3, 2]) }

    @Test(
        "every kind of target round-trips through a file",
        arguments: [
            TensorDataset.Targets.sequences((0..<6).map(Float.init), features: 1),
            .vectors([0.5, -0.5, 1, 2], features: 2),
            .classes([3, 0]),
            .sequenceClasses([0, 1, 2, 2, -100, -100])
        ])
    func roundTrip(_ targets: TensorDataset.Targets) throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("data.safetensors")
        let original = try dataset(targets, lengths: [3, 1])

        try original.write(to: url)
        let loaded = try TensorDataset(contentsOf: url)

        #expect(loaded == original)
        #expect((loaded.count, loaded.timeSteps, loaded.inputSize) == (2, 3, 2))
        #expect(loaded.lengths == [3, 1])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["data.safetensors"])
    }

    @Test("writes F32 inputs and I64 labels and lengths, the types PyTorch expects")
    func writtenTypes() throws {
        let file = try dataset(.sequenceClasses([0, 1, 2, 2, -100, -100]), lengths: [3, 1]).safetensorsFile
        #expect(file.tensors["inputs"]?.dtype == .float32)
        #expect(file.tensors["inputs"]?.shape == [2, 3, 2])
        #expect(file.tensors["targets"]?.dtype == .int64)
        #expect(file.tensors["targets"]?.shape == [2, 3])
        #expect(file.tensors["lengths"]?.dtype == .int64)
        #expect(try file.integers("lengths") == [3, 1])
    }

    @Test("reads I32 labels and lengths, and F64 inputs as NumPy saves them")
    func readsOtherDTypes() throws {
        let data = try TensorDataset(
            file: file([
                "inputs": Tensor(doubles: Self.inputs.map(Double.init), shape: [2, 3, 2]),
                "targets": Tensor(int32: [1, 0], shape: [2]),
                "lengths": Tensor(int32: [2, 3], shape: [2])
            ]))
        #expect(data.inputs == Self.inputs)
        #expect(data.targets == .classes([1, 0]))
        #expect(data.lengths == [2, 3])
    }

    @Test("padded label positions may hold anything; valid ones must be non-negative")
    func paddedLabels() throws {
        let padded = try TensorDataset(
            file: file([
                "inputs": validInputs,
                "targets": Tensor(int64: [5, -100, -7, 1, 2, -1], shape: [2, 3]),
                "lengths": Tensor(int64: [1, 2], shape: [2])
            ]))
        #expect(padded.targets == .sequenceClasses([5, -100, -7, 1, 2, -1]))

        #expect(
            throws: DatasetError.negativeLabel(
                source: "data.safetensors", tensor: "targets", position: [1, 1], value: -3)
        ) {
            try TensorDataset(
                file: file([
                    "inputs": validInputs,
                    "targets": Tensor(int64: [5, -100, -7, 1, -3, -1], shape: [2, 3]),
                    "lengths": Tensor(int64: [1, 2], shape: [2])
                ]))
        }
        // Without lengths, every step is valid.
        #expect(
            throws: DatasetError.negativeLabel(source: "<memory>", tensor: "targets", position: [0, 1], value: -100)
        ) {
            try dataset(.sequenceClasses([0, -100, 0, 0, 0, 0]))
        }
    }

    static let malformedCases: [([String: Tensor], DatasetError)] = [
        (
            ["targets": Tensor(int64: [1, 0], shape: [2])],
            DatasetError.missingTensor(source: "data.safetensors", tensor: "inputs")
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2])],
            .missingTensor(source: "data.safetensors", tensor: "targets")
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 0], shape: [2]),
                "length": Tensor(int64: [1, 1], shape: [2])
            ],
            .unexpectedTensor(source: "data.safetensors", tensor: "length")
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [6, 2]), "targets": Tensor(int64: [1, 0], shape: [2])],
            .wrongRank(source: "data.safetensors", tensor: "inputs", shape: [6, 2], expected: "[N, T, I]")
        ),
        (
            [
                "inputs": Tensor(int32: [Int32](repeating: 0, count: 12), shape: [2, 3, 2]),
                "targets": Tensor(int64: [1, 0], shape: [2])
            ],
            .wrongDType(source: "data.safetensors", tensor: "inputs", expected: "F32", actual: .int32)
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(floats: [1, 0], shape: [2])],
            .wrongRank(
                source: "data.safetensors", tensor: "targets", shape: [2],
                expected: "[N, T, O] or [N, O] for float targets")
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 0], shape: [1, 2, 1])],
            .wrongRank(
                source: "data.safetensors", tensor: "targets", shape: [1, 2, 1],
                expected: "[N] or [N, T] for class labels")
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(floats: [1, 2, 3], shape: [3, 1])],
            .countMismatch(source: "data.safetensors", tensor: "targets", count: 3, expected: 2)
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 0, 1, 0], shape: [2, 2])],
            .timeStepsMismatch(source: "data.safetensors", tensor: "targets", timeSteps: 2, expected: 3)
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]),
                "targets": Tensor(floats: [Float](repeating: 0, count: 8), shape: [2, 4, 1])
            ],
            .timeStepsMismatch(source: "data.safetensors", tensor: "targets", timeSteps: 4, expected: 3)
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 0], shape: [2]),
                "lengths": Tensor(int64: [3, 0], shape: [2])
            ],
            .lengthOutOfRange(source: "data.safetensors", index: 1, value: 0, timeSteps: 3)
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 0], shape: [2]),
                "lengths": Tensor(int64: [4, 1], shape: [2])
            ],
            .lengthOutOfRange(source: "data.safetensors", index: 0, value: 4, timeSteps: 3)
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 0], shape: [2]),
                "lengths": Tensor(int64: [1, 1, 1], shape: [3])
            ],
            .countMismatch(source: "data.safetensors", tensor: "lengths", count: 3, expected: 2)
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 0], shape: [2]),
                "lengths": Tensor(floats: [1, 1], shape: [2])
            ],
            .wrongDType(source: "data.safetensors", tensor: "lengths", expected: "I64 or I32", actual: .float32)
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]),
                "targets": try! Tensor(dtype: .bool, shape: [2], bytes: [1, 0])
            ],
            .wrongDType(
                source: "data.safetensors", tensor: "targets",
                expected: "F32 (regression) or I64/I32 (class labels)", actual: .bool)
        ),
        (
            ["inputs": Tensor(floats: [], shape: [0, 3, 2]), "targets": Tensor(int64: [], shape: [0])],
            .emptyDimension(source: "data.safetensors", tensor: "inputs", shape: [0, 3, 2])
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(floats: [], shape: [2, 0])],
            .emptyDimension(source: "data.safetensors", tensor: "targets", shape: [2, 0])
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, -2], shape: [2])],
            .negativeLabel(source: "data.safetensors", tensor: "targets", position: [1], value: -2)
        ),
        (
            ["inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [1, 1 << 31], shape: [2])],
            .labelOutOfRange(source: "data.safetensors", tensor: "targets", position: [1], value: 1 << 31)
        ),
        (
            [
                "inputs": Tensor(floats: inputs, shape: [2, 3, 2]),
                "targets": Tensor(int64: [0, 0, 0, 0, 0, -(1 << 40)], shape: [2, 3])
            ],
            .labelOutOfRange(source: "data.safetensors", tensor: "targets", position: [1, 2], value: -(1 << 40))
        )
    ]

    @Test("malformed data sets throw their specific errors", arguments: malformedCases)
    func malformed(_ tensors: [String: Tensor], _ expected: DatasetError) {
        #expect(throws: expected) { try TensorDataset(file: file(tensors)) }
    }

    @Test("inputs alone read without targets, and ignore targets that are there")
    func inputsAlone() throws {
        let lengths = Tensor(int64: [3, 1], shape: [2])
        let unlabelled = try TensorDataset.Inputs(file: file(["inputs": validInputs, "lengths": lengths]))
        #expect(unlabelled.count == 2 && unlabelled.timeSteps == 3 && unlabelled.inputSize == 2)
        #expect(unlabelled.inputs == Self.inputs && unlabelled.lengths == [3, 1])
        #expect(unlabelled.batch.targets == nil)
        // Targets that would not make a data set (wrong rank) are not read.
        let labelled = try TensorDataset.Inputs(
            file: file(["inputs": validInputs, "lengths": lengths, "targets": Tensor(floats: [1, 2], shape: [2])]))
        #expect(labelled == unlabelled)
        #expect(throws: DatasetError.lengthOutOfRange(source: "data.safetensors", index: 1, value: 4, timeSteps: 3)) {
            try TensorDataset.Inputs(file: file(["inputs": validInputs, "lengths": Tensor(int64: [3, 4], shape: [2])]))
        }
        #expect(throws: DatasetError.unexpectedTensor(source: "data.safetensors", tensor: "input")) {
            try TensorDataset.Inputs(file: file(["input": validInputs]))
        }

        let perStep = ModelConfiguration(
            cell: .gru, input: .dense(features: 2), hiddenSize: 4, outputSize: 3, topology: .manyToMany)
        try unlabelled.check(fits: perStep)
        var wrongWidth = perStep
        wrongWidth.input = .dense(features: 5)
        #expect(throws: ModelError.inputMismatch("the model reads 5 input features per step, the data has 2")) {
            try unlabelled.check(fits: wrongWidth)
        }
        var generator = perStep
        generator.topology = .oneToMany
        #expect(throws: ModelError.self) { try unlabelled.check(fits: generator) }
    }

    @Test("NaN and infinity are refused with their position")
    func nonFiniteValues() throws {
        var inputs = Self.inputs
        inputs[1 * 6 + 2 * 2 + 1] = .nan  // [n: 1, t: 2, i: 1]
        #expect(
            throws: DatasetError.nonFiniteTensorValue(
                source: "data.safetensors", tensor: "inputs", position: [1, 2, 1], value: "nan")
        ) {
            try TensorDataset(
                file: file([
                    "inputs": Tensor(floats: inputs, shape: [2, 3, 2]), "targets": Tensor(int64: [0, 0], shape: [2])
                ]))
        }
        #expect(
            throws: DatasetError.nonFiniteTensorValue(
                source: "<memory>", tensor: "targets", position: [0, 1, 0], value: "-inf")
        ) {
            try dataset(.sequences([0, -.infinity, 0, 0, 0, 0], features: 1))
        }
        #expect(
            throws: DatasetError.nonFiniteTensorValue(
                source: "<memory>", tensor: "targets", position: [1, 0], value: "inf")
        ) {
            try dataset(.vectors([0, .infinity], features: 1))
        }
    }

    @Test("the array initializer checks sizes")
    func arrayInitializer() throws {
        #expect(
            throws: DatasetError.elementCountMismatch(
                source: "<memory>", tensor: "inputs", shape: [2, 3, 2], expected: 12, actual: 11)
        ) {
            try TensorDataset(
                inputs: Array(Self.inputs.dropLast()), count: 2, timeSteps: 3, inputSize: 2, targets: .classes([0, 0]))
        }
        #expect(
            throws: DatasetError.elementCountMismatch(
                source: "<memory>", tensor: "targets", shape: [2, 2], expected: 4, actual: 3)
        ) {
            try dataset(.vectors([1, 2, 3], features: 2))
        }
        #expect(throws: DatasetError.countMismatch(source: "<memory>", tensor: "lengths", count: 1, expected: 2)) {
            try dataset(.classes([0, 0]), lengths: [3])
        }
        #expect(throws: DatasetError.lengthOutOfRange(source: "<memory>", index: 1, value: -1, timeSteps: 3)) {
            try dataset(.classes([0, 0]), lengths: [3, -1])
        }
        #expect(throws: DatasetError.emptyDimension(source: "<memory>", tensor: "inputs", shape: [2, 0, 2])) {
            try TensorDataset(
                inputs: [], count: 2, timeSteps: 0, inputSize: 2, targets: .classes([0, 0]), lengths: [1, 1])
        }
        #expect(
            throws: DatasetError.sizeOverflow(source: "<memory>", tensor: "inputs", shape: [1 << 40, 1 << 40, 1])
        ) {
            try TensorDataset(inputs: [], count: 1 << 40, timeSteps: 1 << 40, inputSize: 1, targets: .classes([]))
        }
    }

    @Test("errors read as a sentence naming file, tensor and position")
    func descriptions() {
        #expect(
            DatasetError.lengthOutOfRange(source: "train.safetensors", index: 4, value: 0, timeSteps: 50).description
                == "train.safetensors: lengths[4] is 0, expected a value in 1...50")
        #expect(
            DatasetError.nonFiniteTensorValue(
                source: "train.safetensors", tensor: "inputs", position: [3, 7, 1], value: "nan"
            )
            .description == "train.safetensors: inputs[3, 7, 1] is nan; values must be finite, padding included")
    }
}
