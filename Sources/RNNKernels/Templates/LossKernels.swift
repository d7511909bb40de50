import Foundation

// Per-row losses with their gradients written in place of the model outputs.

enum LossKernel {
    /// Softmax cross-entropy of one row of logits against `label`: returns
    /// `logsumexp(x) - x[label]` and overwrites the logits with
    /// `scale * (softmax(x) - onehot(label))`.
    static func softmaxCrossEntropy(_ logits: UnsafeMutablePointer<Float>, count: Int, label: Int, scale: Float)
        -> Double
    {
        let labelLogit = logits[label]
        var maximum = -Float.infinity
        for index in 0..<count { maximum = max(maximum, logits[index]) }
        let shift = Vector(repeating: maximum)
        var sum = Vector()
        forEachChunk(count) { offset, lanes in
            let exponential = vectorExp(load(logits + offset, lanes: lanes) - shift)
            // Lanes past the row's end hold exp(-max): mask them out of the sum.
            sum +=
                lanes == Vector.scalarCount
                ? exponential
                : exponential.replacing(with: 0, where: Vector.laneIndices .>= Float(lanes))
            store(exponential, logits + offset, lanes: lanes)
        }
        let total = Double(sum.sum())
        let loss = log(total) - Double(labelLogit - maximum)
        let factor = Vector(repeating: scale / Float(total))
        forEachChunk(count) { offset, lanes in
            store(load(logits + offset, lanes: lanes) * factor, logits + offset, lanes: lanes)
        }
        logits[label] -= scale
        return loss
    }

    /// Squared error of one row: returns `Σ (y - t)²` and overwrites the
    /// outputs with `scale * 2 (y - t)`.
    static func squaredError(
        _ outputs: UnsafeMutablePointer<Float>, targets: UnsafePointer<Float>,
        count: Int, scale: Float
    ) -> Double {
        var total = Vector()
        let factor = Vector(repeating: 2 * scale)
        forEachChunk(count) { offset, lanes in
            let difference = load(outputs + offset, lanes: lanes) - load(targets + offset, lanes: lanes)
            total = multiplyAdd(difference, difference, total)
            store(difference * factor, outputs + offset, lanes: lanes)
        }
        return Double(total.sum())
    }
}

extension Vector {
    /// 0, 1, 2, ... as floats.
    static var laneIndices: Vector {
        var indices = Vector()
        for lane in 0..<scalarCount { indices[lane] = Float(lane) }
        return indices
    }
}
