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

    var testDescription: String {
        "\(cell.rawValue) \(bidirectional ? "bi" : "uni") l\(layers) \(variableLengths ? "var" : "equal") \(topology.rawValue) \(input) \(classes ? "ce" : "mse")"
    }

    static var all: [GradientCase] {
        var cases: [GradientCase] = []
        for cell in CellKind.allCases {
            for bidirectional in [false, true] {
                for layers in [1, 2] {
                    for variableLengths in [false, true] {
                        for topology in [Topology.manyToMany, .manyToOne, .encoderDecoder] {
                            cases.append(GradientCase(cell: cell, bidirectional: bidirectional, layers: layers,
                                                      variableLengths: variableLengths, topology: topology))
                        }
                    }
                    for topology in [Topology.oneToOne, .oneToMany] {
                        cases.append(GradientCase(cell: cell, bidirectional: bidirectional, layers: layers,
                                                  variableLengths: false, topology: topology,
                                                  input: .dense(features: topology == .oneToMany ? 2 : 3)))
                    }
                }
            }
            cases.append(GradientCase(cell: cell, bidirectional: true, layers: 2, variableLengths: true,
                                      topology: .manyToMany, input: .embedding(vocabularySize: 5, dimension: 3), classes: true))
            cases.append(GradientCase(cell: cell, bidirectional: false, layers: 1, variableLengths: true,
                                      topology: .manyToOne, input: .oneHot(vocabularySize: 4), classes: true))
        }
        return cases
    }
}

@Test(arguments: GradientCase.all)
func gradientsMatchFiniteDifferences(_ testCase: GradientCase) throws {
    let configuration = ModelConfiguration(cell: testCase.cell, input: testCase.input, hiddenSize: 3,
                                           layers: testCase.layers, bidirectional: testCase.bidirectional,
                                           outputSize: 2, topology: testCase.topology)
    let model = try Model(configuration, seed: 7)
    model.scaleParameters(by: 1.5)
    var factory = BatchFactory(seed: 11)
    let batch = factory.batch(for: configuration, count: 3, timeSteps: 4, variableLengths: testCase.variableLengths,
                              decoderTimeSteps: 3, classes: testCase.classes)
    let trainer = Trainer(model: model, optimizer: .sgd(learningRate: 0), threads: 1)
    let (_, analytic) = try trainer.gradients(batch)
    var generator = SeededGenerator(seed: 3)
    let epsilon: Float = 4e-3
    for name in model.parameterNames {
        let values = model.parameter(name)!
        let gradient = analytic[name]!
        // A few entries per tensor keep the sweep fast.
        for _ in 0..<min(6, values.count) {
            let index = Int(generator.next() % UInt64(values.count))
            func centralDifference(_ step: Float) throws -> Double {
                var perturbed = values
                perturbed[index] = values[index] + step
                try model.setParameter(name, to: perturbed)
                let plus = try trainer.loss(batch)
                perturbed[index] = values[index] - step
                try model.setParameter(name, to: perturbed)
                let minus = try trainer.loss(batch)
                try model.setParameter(name, to: values)
                return (plus - minus) / (2 * Double(step))
            }
            var numeric = try centralDifference(epsilon)
            // ReLU has kinks: where a perturbation crosses one, the difference
            // quotient depends on the step. There the smaller step decides, and
            // an entry is skipped only when the two steps disagree with each
            // other as well as with the analytic gradient.
            if testCase.cell == .rnnReLU, !agrees(numeric, Double(gradient[index])) {
                let finer = try centralDifference(epsilon / 8)
                if !agrees(finer, numeric) { continue }
                numeric = finer
            }
            #expect(agrees(numeric, Double(gradient[index])),
                    "\(name)[\(index)]: analytic \(gradient[index]), numeric \(numeric)")
        }
    }
}

private func agrees(_ numeric: Double, _ analytic: Double) -> Bool {
    abs(numeric - analytic) <= 2e-3 * max(abs(numeric), abs(analytic)) + 3e-4
}
