import Foundation
import Testing
@testable import RNNKit

/// One configuration of the finite-difference sweep.
struct GradientCase: CustomTestStringConvertible, Sendable {
    var cell: CellKind
    var bidirectional: Bool
    var layers: Int
    var variableLengths: Bool
    var topology: Topology
    var input: InputEncoding = .dense(features: 3)
    var classes = false
    var head = OutputHead.linear
    var count = 3
    var timeSteps = 4

    var testDescription: String {
        "\(cell.rawValue) \(bidirectional ? "bi" : "uni") l\(layers) \(variableLengths ? "var" : "equal") "
            + "\(topology.rawValue) \(input) \(classes ? "ce" : "mse") \(head) \(count)x\(timeSteps)"
    }

    static var all: [GradientCase] {
        var cases: [GradientCase] = []
        for cell in CellKind.allCases {
            for bidirectional in [false, true] {
                for layers in [1, 2] {
                    for variableLengths in [false, true] {
                        for topology in [Topology.manyToMany, .manyToOne, .encoderDecoder] {
                            cases.append(
                                GradientCase(
                                    cell: cell, bidirectional: bidirectional, layers: layers,
                                    variableLengths: variableLengths, topology: topology))
                        }
                    }
                    for topology in [Topology.oneToOne, .oneToMany] {
                        cases.append(
                            GradientCase(
                                cell: cell, bidirectional: bidirectional, layers: layers,
                                variableLengths: false, topology: topology,
                                input: .dense(features: topology == .oneToMany ? 2 : 3)))
                    }
                }
            }
            cases.append(
                GradientCase(
                    cell: cell, bidirectional: true, layers: 2, variableLengths: true,
                    topology: .manyToMany, input: .embedding(vocabularySize: 5, dimension: 3), classes: true))
            cases.append(
                GradientCase(
                    cell: cell, bidirectional: false, layers: 1, variableLengths: true,
                    topology: .manyToOne, input: .oneHot(vocabularySize: 4), classes: true))
            // Without a head, the loss reads the top layer's output directly.
            cases.append(
                GradientCase(
                    cell: cell, bidirectional: true, layers: 2, variableLengths: true,
                    topology: .manyToMany, head: .identity))
            cases.append(
                GradientCase(
                    cell: cell, bidirectional: false, layers: 1, variableLengths: true,
                    topology: .manyToOne, classes: true, head: .identity))
        }
        // Weight gradients are summed in regions of about 768 positions: 2
        // rows of 400 steps take two regions per unit, in both directions.
        for cell in [CellKind.rnnTanh, .lstm, .gru] {
            cases.append(
                GradientCase(
                    cell: cell, bidirectional: true, layers: 2, variableLengths: true,
                    topology: .manyToMany, count: 2, timeSteps: 400))
        }
        cases.append(
            GradientCase(
                cell: .gru, bidirectional: true, layers: 1, variableLengths: false,
                topology: .manyToMany, input: .oneHot(vocabularySize: 4), classes: true,
                count: 2, timeSteps: 400))
        return cases
    }
}

@Test(arguments: GradientCase.all)
func gradientsMatchFiniteDifferences(_ testCase: GradientCase) throws {
    let configuration = ModelConfiguration(
        cell: testCase.cell, input: testCase.input, hiddenSize: 3,
        layers: testCase.layers, bidirectional: testCase.bidirectional,
        outputSize: testCase.head == .identity ? 3 * (testCase.bidirectional ? 2 : 1) : 2,
        topology: testCase.topology, head: testCase.head)
    let model = try Model(configuration, seed: 7)
    model.scaleParameters(by: 1.5)
    var factory = BatchFactory(seed: 11)
    let batch = factory.batch(
        for: configuration, count: testCase.count, timeSteps: testCase.timeSteps,
        variableLengths: testCase.variableLengths,
        decoderTimeSteps: 3, classes: testCase.classes)
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 1)
    let (_, analytic) = try trainer.gradients(batch)
    try expectGradientsMatchFiniteDifferences(model: model, analytic: analytic, kinks: testCase.cell == .rnnReLU) {
        try trainer.loss(batch)
    }
}

/// Compares a few entries of every parameter's `analytic` gradient with
/// central differences of `loss`, which reads the model's current weights.
/// - Parameter kinks: whether the model has ReLU kinks, where the gradient
///   is one of the one-sided derivatives.
func expectGradientsMatchFiniteDifferences(
    model: Model, analytic: [String: [Float]], kinks: Bool,
    loss currentLoss: () throws -> Double
) throws {
    var generator = SeededGenerator(seed: 3)
    let epsilon: Float = 4e-3
    // A layer norm bends sharply where a row's spread is small, so the
    // central difference's own error (the step squared times the third
    // derivative) exceeds the tolerance: Richardson's combination of two
    // steps cancels that term, and what float32 rounding leaves after it
    // (shorter steps only trade it for rounding error) gets a wider margin.
    let layerNorm = model.configuration.cell == .layerNormLSTM
    let relativeTolerance = layerNorm ? 5e-3 : 2e-3
    for name in model.parameterNames {
        let values = model.parameter(name)!
        let gradient = analytic[name]!
        // A few entries per tensor keep the sweep fast.
        for _ in 0..<min(6, values.count) {
            let index = Int(generator.next() % UInt64(values.count))
            func loss(offset: Float) throws -> Double {
                var perturbed = values
                perturbed[index] = values[index] + offset
                try model.setParameter(name, to: perturbed)
                defer { try? model.setParameter(name, to: values) }
                return try currentLoss()
            }
            func centralDifference(_ step: Float) throws -> Double {
                (try loss(offset: step) - loss(offset: -step)) / (2 * Double(step))
            }
            var numeric = try centralDifference(epsilon)
            if layerNorm { numeric = (4 * (try centralDifference(epsilon / 2)) - numeric) / 3 }
            // ReLU has kinks, where the gradient is one of the one-sided
            // derivatives: there the analytic value must match one of them.
            if kinks, !agrees(numeric, Double(gradient[index]), relativeTolerance) {
                let step = epsilon / 8, center = try loss(offset: 0)
                let forward = (try loss(offset: step) - center) / Double(step)
                let backward = (center - (try loss(offset: -step))) / Double(step)
                numeric = agrees(forward, Double(gradient[index]), relativeTolerance) ? forward : backward
            }
            #expect(
                agrees(numeric, Double(gradient[index]), relativeTolerance),
                "\(name)[\(index)]: analytic \(gradient[index]), numeric \(numeric)")
        }
    }
}

private func agrees(_ numeric: Double, _ analytic: Double, _ relativeTolerance: Double) -> Bool {
    abs(numeric - analytic) <= relativeTolerance * max(abs(numeric), abs(analytic)) + 3e-4
}
