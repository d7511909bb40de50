// Element-wise passes over contiguous float arrays: bias broadcast (for the
// GEMM's bias start), column sums, the gradient reduction, norms and the optimiser updates. Each walks
// its array in a fixed order so that results never depend on how callers
// split work between threads.

enum VectorOps {
    /// Copies `row` (`columns` floats) into each of `rows` rows of `matrix`.
    static func broadcastRows(
        _ row: UnsafePointer<Float>, into matrix: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int, rowStride: Int
    ) {
        for index in 0..<rows { (matrix + index * rowStride).update(from: row, count: columns) }
    }

    /// `row += other` over `count` floats.
    static func add(_ other: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, count: Int) {
        forEachChunk(count) { offset, lanes in
            store(load(row + offset, lanes: lanes) + load(other + offset, lanes: lanes), row + offset, lanes: lanes)
        }
    }

    /// `sums[j] += Σ_i matrix[i, j]`, rows summed in increasing order.
    ///
    /// Streams the matrix once, row by row, into `sums` (which stays in cache).
    static func accumulateColumnSums(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int,
        into sums: UnsafeMutablePointer<Float>
    ) {
        for row in 0..<rows { add(matrix + row * rowStride, into: sums, count: columns) }
    }

    /// `Σ values[i]²` accumulated in double precision, in a fixed order.
    static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0
        var start = 0
        // Float partial sums over short blocks, then double across blocks:
        // vector speed with double-like accuracy for long arrays.
        while start < count {
            let width = min(1024, count - start)
            var partial = Vector()
            forEachChunk(width) { offset, lanes in
                let value = load(values + start + offset, lanes: lanes)
                partial = multiplyAdd(value, value, partial)
            }
            for lane in 0..<Vector.scalarCount { total += Double(partial[lane]) }
            start += width
        }
        return total
    }

    /// `values *= factor`.
    static func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        let factors = Vector(repeating: factor)
        forEachChunk(count) { offset, lanes in
            store(load(values + offset, lanes: lanes) * factors, values + offset, lanes: lanes)
        }
    }

    /// Clamps each value into `-limit...limit`.
    static func clamp(_ values: UnsafeMutablePointer<Float>, count: Int, limit: Float) {
        forEachChunk(count) { offset, lanes in
            var value = load(values + offset, lanes: lanes)
            value.replace(with: Vector(repeating: limit), where: value .> limit)
            value.replace(with: Vector(repeating: -limit), where: value .< -limit)
            store(value, values + offset, lanes: lanes)
        }
    }

    /// Dropout: `values[i] *= scale` where element `i`'s draw is below
    /// `keepBelow`, `values[i] *= 0` elsewhere. The draw is a hash of the
    /// key and `i` (counter-based), so a mask is recomputed rather than stored:
    /// `lowbias32(lowbias32(low ^ i) &+ high)` with `low` and `high` the key's
    /// halves, lowbias32 being Wellons' 32-bit integer hash.
    static func dropout(
        _ values: UnsafeMutablePointer<Float>, count: Int, key: UInt64, keepBelow: UInt32, scale: Float
    ) {
        let low = Bits(repeating: UInt32(truncatingIfNeeded: key))
        let high = Bits(repeating: UInt32(truncatingIfNeeded: key >> 32))
        var lanes = Bits()
        for lane in 0..<Bits.scalarCount { lanes[lane] = UInt32(lane) }
        let threshold = Bits(repeating: keepBelow), kept = Vector(repeating: scale)
        forEachChunk(count) { offset, count in
            let indices = lanes &+ Bits(repeating: UInt32(truncatingIfNeeded: offset))
            let draws = lowbias32(lowbias32(low ^ indices) &+ high)
            var factors = Vector()
            factors.replace(with: kept, where: draws .< threshold)
            store(load(values + offset, lanes: count) * factors, values + offset, lanes: count)
        }
    }

    @inline(__always)
    private static func lowbias32(_ word: Bits) -> Bits {
        var x = word
        x ^= x &>> 16
        x &*= 0x7FEB_352D
        x ^= x &>> 15
        x &*= 0x846C_A68B
        return x ^ x &>> 16
    }

    /// Sums `count` floats of each buffer in `buffers` into `buffers[0]`
    /// through a fixed pairwise tree (level by level: 0+1, 2+3, ...; then
    /// 0+2, ...), restricted to `range`. The tree's shape depends only on the
    /// number of buffers, so the sum is bit-identical however many threads
    /// share the ranges.
    static func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, count: Int, range: Range<Int>) {
        var stride = 1
        while stride < count {
            var index = 0
            while index + stride < count {
                add(
                    buffers[index + stride] + range.lowerBound, into: buffers[index] + range.lowerBound,
                    count: range.count)
                index += 2 * stride
            }
            stride *= 2
        }
    }

    /// PyTorch's SGD: `g += wd p`; `b = μ b + g` (b = g on the first step);
    /// `p -= lr b` (plain `p -= lr g` without momentum).
    static func sgdUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        momentum buffer: UnsafeMutablePointer<Float>?, count: Int, learningRate: Float,
        momentum: Float, weightDecay: Float, firstStep: Bool
    ) {
        let lr = Vector(repeating: learningRate), mu = Vector(repeating: momentum), wd = Vector(repeating: weightDecay)
        forEachChunk(count) { offset, lanes in
            let p = load(parameters + offset, lanes: lanes)
            var g = multiplyAdd(wd, p, load(gradients + offset, lanes: lanes))
            if let buffer {
                if !firstStep { g = multiplyAdd(mu, load(buffer + offset, lanes: lanes), g) }
                store(g, buffer + offset, lanes: lanes)
            }
            store(p - lr * g, parameters + offset, lanes: lanes)
        }
    }

    /// PyTorch's Adam (L2 weight decay added to the gradient, bias-corrected moments):
    /// `p -= lr / (1 - β1^t) * m / (sqrt(v) / sqrt(1 - β2^t) + eps)`.
    static func adamUpdate(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
        count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
        weightDecay: Float, step: Int
    ) {
        let correction1 = 1 - Float(power(Double(beta1), step))
        let correction2 = 1 - Float(power(Double(beta2), step))
        let stepSize = Vector(repeating: learningRate / correction1)
        let inverseRootCorrection2 = Vector(repeating: 1 / correction2.squareRoot())
        let b1 = Vector(repeating: beta1), b2 = Vector(repeating: beta2)
        let oneMinusB1 = Vector(repeating: 1 - beta1), oneMinusB2 = Vector(repeating: 1 - beta2)
        let eps = Vector(repeating: epsilon), wd = Vector(repeating: weightDecay)
        forEachChunk(count) { offset, lanes in
            let p = load(parameters + offset, lanes: lanes)
            let g = multiplyAdd(wd, p, load(gradients + offset, lanes: lanes))
            let m = multiplyAdd(b1, load(firstMoment + offset, lanes: lanes), oneMinusB1 * g)
            let v = multiplyAdd(b2, load(secondMoment + offset, lanes: lanes), oneMinusB2 * g * g)
            store(m, firstMoment + offset, lanes: lanes)
            store(v, secondMoment + offset, lanes: lanes)
            let denominator = multiplyAdd(v.squareRoot(), inverseRootCorrection2, eps)
            store(p - stepSize * m / denominator, parameters + offset, lanes: lanes)
        }
    }
}

/// `base^exponent` for the optimiser's step count, by repeated squaring.
@inline(__always)
func power(_ base: Double, _ exponent: Int) -> Double {
    var result = 1.0, factor = base, remaining = exponent
    while remaining > 0 {
        if remaining & 1 == 1 { result *= factor }
        factor *= factor
        remaining >>= 1
    }
    return result
}
