import Foundation
import Testing
@testable import RNNKernels

// The per-row losses against double-precision references: log-softmax for
// cross-entropy, a plain sum for squared error. Rows sit between NaN guards,
// so a kernel that reads past a row's end (the vector tail) poisons its result.

/// Softmax cross-entropy of one row in double precision: the loss and
/// `scale * (softmax - onehot)`.
private func crossEntropyReference(_ logits: [Float], label: Int, scale: Double) -> (loss: Double, gradient: [Double]) {
    let x = logits.map(Double.init)
    let maximum = x.max()!
    let logSumExp = maximum + log(x.reduce(0) { $0 + exp($1 - maximum) })
    let gradient = x.indices.map { scale * (exp(x[$0] - logSumExp) - ($0 == label ? 1 : 0)) }
    return (logSumExp - x[label], gradient)
}

private func checkCrossEntropy(
    _ logits: [Float], label: Int, scale: Float,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let buffer = GuardedBuffer(logits)
    let loss = Kernels.current.softmaxCrossEntropy(buffer.pointer, count: logits.count, label: label, scale: scale)
    let reference = crossEntropyReference(logits, label: label, scale: Double(scale))
    #expect(
        isClose(Float(loss), reference.loss),
        "loss \(loss), expected \(reference.loss) (label \(label) of \(logits.count))",
        sourceLocation: sourceLocation)
    expectBuffer(
        buffer, reference.gradient.map(Expected.close), "gradient (label \(label) of \(logits.count))",
        sourceLocation: sourceLocation)
}

@Test(
    "softmaxCrossEntropy matches log-softmax, with gradient scale * (softmax - onehot)", .everyKernelVariant,
    arguments: [1, 2, 3, 7, 8, 9, 17, 100, 1001])
func softmaxCrossEntropy(count: Int) {
    var random = TestRandom(seed: UInt64(count))
    let logits = random.floats(count, -6, 6)
    for label in Set([0, count / 2, count - 1]).sorted() {
        checkCrossEntropy(logits, label: label, scale: 0.25)
        checkCrossEntropy(logits, label: label, scale: 1)
    }
}

@Test("softmaxCrossEntropy does not overflow on large logits", .everyKernelVariant, arguments: [3, 9, 100])
func softmaxCrossEntropyLargeLogits(count: Int) {
    var random = TestRandom(seed: UInt64(count) + 1000)
    // All near 1000: exp(1000) overflows unless the maximum is subtracted first.
    let shifted = random.floats(count, -5, 5).map { $0 + 1000 }
    checkCrossEntropy(shifted, label: count - 1, scale: 0.5)
    // Far apart: ±1000 and ordinary values; the label on a logit whose probability underflows.
    var spread = random.floats(count, -3, 3)
    spread[0] = 1000
    spread[1] = -1000
    checkCrossEntropy(spread, label: 0, scale: 1)
    checkCrossEntropy(spread, label: count - 1, scale: 1)
    let buffer = GuardedBuffer(spread)
    let loss = Kernels.current.softmaxCrossEntropy(buffer.pointer, count: count, label: 1, scale: 1)
    #expect(isClose(Float(loss), 2000, relative: 1e-6, absolute: 0), "loss \(loss) on a logit 2000 below the maximum")
    #expect(buffer.values.allSatisfy { $0.isFinite })
}

@Test(
    "squaredError matches Σ (y - t)², with gradient scale * 2 (y - t)", .everyKernelVariant,
    arguments: [1, 3, 7, 8, 9, 17, 100, 1001])
func squaredError(count: Int) {
    var random = TestRandom(seed: UInt64(count))
    let outputs = random.floats(count, -2, 2), targets = GuardedBuffer(random.floats(count, -2, 2))
    let buffer = GuardedBuffer(outputs)
    let targetsBefore = untouched(targets)
    let scale: Float = 0.125
    let loss = Kernels.current.squaredError(buffer.pointer, targets: targets.pointer, count: count, scale: scale)
    let differences = (0..<count).map { Double(outputs[$0]) - Double(targets[$0]) }
    let reference = differences.reduce(0) { $0 + $1 * $1 }
    #expect(isClose(Float(loss), reference), "loss \(loss), expected \(reference)")
    expectBuffer(buffer, differences.map { .close(2 * Double(scale) * $0) }, "gradient")
    expectBuffer(targets, targetsBefore, "targets")
}
