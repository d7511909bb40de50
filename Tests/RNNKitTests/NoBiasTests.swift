import Foundation
import Testing

@testable import RNNKit

// PyTorch's bias=False. The golden fixtures `*-nobias` check outputs,
// gradients and optimiser steps against PyTorch; these check the layout and
// the refusals.

@Test func aModelWithoutBiasesHasPyTorchsTensorsForBiasFalse() throws {
    let configuration = ModelConfiguration(
        cell: .gru, input: .dense(features: 4), hiddenSize: 5, layers: 2, bidirectional: true, outputSize: 2,
        topology: .manyToOne, bias: false)
    let model = try Model(configuration, seed: 1)
    #expect(model.parameterNames.filter { $0.contains("bias") } == ["head.bias"])
    #expect(model.parameterNames.filter { $0.hasPrefix("rnn.") }.count == 8)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("nobias-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.write(to: url)
    let loaded = try Model(contentsOf: url)
    #expect(loaded.configuration == configuration)
    #expect(model.parameterNames.allSatisfy { loaded.parameter($0) == model.parameter($0) })
}

@Test func theLayerNormalisedLSTMHasNoBiasesToLeaveOut() {
    let configuration = ModelConfiguration(
        cell: .layerNormLSTM, input: .dense(features: 4), hiddenSize: 5, outputSize: 2, topology: .manyToOne,
        bias: false)
    #expect(throws: ModelError.self) { try Model(configuration, seed: 1) }
}

@Test func aFileWithBiasesButMetadataSayingNoneIsRefused() throws {
    let model = try Model(
        ModelConfiguration(cell: .lstm, input: .dense(features: 3), hiddenSize: 4, outputSize: 1, topology: .manyToOne),
        seed: 2)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bias-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.write(to: url)
    var file = try SafetensorsFile(contentsOf: url)
    file.metadata["bias"] = "false"
    #expect(throws: ModelError.self) { try Model(file: file) }
    file.metadata["bias"] = "no"
    #expect(throws: ModelError.self) { try Model(file: file) }
}
