import Foundation
import Testing
@testable import RNNKernels

private func sweep(from low: Float, to high: Float, count: Int) -> [Float] {
    (0..<count).map { low + (high - low) * Float($0) / Float(count - 1) }
}

private func maxRelativeError(
    _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
    reference: (Double) -> Double, inputs: [Float], floor: Double
) -> Double {
    var outputs = [Float](repeating: 0, count: inputs.count)
    inputs.withUnsafeBufferPointer { input in
        outputs.withUnsafeMutableBufferPointer { output in
            kernel(input.baseAddress!, output.baseAddress!, inputs.count)
        }
    }
    var worst = 0.0
    for (x, y) in zip(inputs, outputs) {
        let expected = reference(Double(x))
        worst = max(worst, abs(Double(y) - expected) / max(abs(expected), floor))
    }
    return worst
}

@Test(.everyKernelVariant) func expMatchesLibm() {
    let error = maxRelativeError(
        { Kernels.current.exp($0, $1, count: $2) }, reference: Foundation.exp,
        inputs: sweep(from: -80, to: 80, count: 20_001), floor: 1e-30)
    #expect(error < 5e-7)
}

@Test(.everyKernelVariant) func sigmoidMatchesReference() {
    let error = maxRelativeError(
        { Kernels.current.sigmoid($0, $1, count: $2) }, reference: { 1 / (1 + Foundation.exp(-$0)) },
        inputs: sweep(from: -40, to: 40, count: 20_001), floor: 1e-30)
    #expect(error < 5e-7)
}

@Test(.everyKernelVariant) func tanhMatchesLibmIncludingTinyArguments() {
    let inputs =
        sweep(from: -12, to: 12, count: 20_001) + sweep(from: -1e-3, to: 1e-3, count: 1_001) + [
            0, 1e-30, -1e-30, 100, -100
        ]
    let error = maxRelativeError(
        { Kernels.current.tanh($0, $1, count: $2) }, reference: Foundation.tanh,
        inputs: inputs, floor: 1e-30)
    #expect(error < 5e-7)
}

@Test(.everyKernelVariant, arguments: [1, 3, 7, 8, 9, 17])
func partialVectorsLeaveNeighboursAlone(count: Int) {
    var output = [Float](repeating: 42, count: count + 3)
    let input = [Float](repeating: 0.5, count: count)
    input.withUnsafeBufferPointer { i in
        output.withUnsafeMutableBufferPointer { o in Kernels.current.tanh(i.baseAddress!, o.baseAddress!, count: count)
        }
    }
    #expect(output[..<count].allSatisfy { abs($0 - Float(Foundation.tanh(0.5))) < 1e-7 })
    #expect(output[count...].allSatisfy { $0 == 42 })
}

// A diverging model's NaN must reach the loss, not be clamped into ±1.
@Test(.everyKernelVariant) func tanhKeepsNaNAndSaturates() {
    let inputs: [Float] = [.nan, -.nan, .infinity, -.infinity, 7.9, 8, 1e10, -1e10]
    var outputs = [Float](repeating: 0, count: inputs.count)
    inputs.withUnsafeBufferPointer { i in
        outputs.withUnsafeMutableBufferPointer { o in Kernels.current.tanh(i.baseAddress!, o.baseAddress!, count: 8) }
    }
    #expect(outputs[0].isNaN && outputs[1].isNaN)
    #expect(outputs[2...].allSatisfy { abs($0) <= 1 && abs($0) > 1 - 3e-7 })
    #expect(outputs[2...].map { $0.sign } == [.plus, .minus, .plus, .plus, .plus, .minus])
}
