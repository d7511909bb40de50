import Foundation
import Testing
@testable import RNNKernels

// VectorOps against scalar references. Where a kernel promises a fixed order
// of float operations (add, column sums, the reduction tree, scale, clamp) the
// reference repeats that order in float and the results must match bit for
// bit; elsewhere a double-precision reference and `isClose`.

/// Lengths around the vector width and the 4-vector column blocks, plus long rows with tails.
private let counts = [1, 3, 7, 8, 9, 16, 17, 31, 32, 33, 100, 1003]

// MARK: - Copies and element-wise arithmetic

@Test("add sums element-wise and stays inside the row", .everyKernelVariant, arguments: counts)
func addElementwise(count: Int) {
    var random = TestRandom(seed: UInt64(count))
    let other = GuardedBuffer(random.floats(count, -10, 10))
    let row = GuardedBuffer(random.floats(count, -10, 10))
    let expected = (0..<count).map { Expected.exact(row[$0] + other[$0]) }
    let otherBefore = untouched(other)
    Kernels.current.add(other.pointer, into: row.pointer, count: count)
    expectBuffer(row, expected, "row")
    expectBuffer(other, otherBefore, "other")
}

@Test("scale multiplies every value", .everyKernelVariant, arguments: counts)
func scaleValues(count: Int) {
    var random = TestRandom(seed: UInt64(count))
    let values = GuardedBuffer(random.floats(count, -10, 10))
    let factor: Float = -0.3721
    let expected = values.values.map { Expected.exact($0 * factor) }
    Kernels.current.scale(values.pointer, count: count, by: factor)
    expectBuffer(values, expected, "values")
}

@Test("clamp limits values to -limit...limit, infinities included", .everyKernelVariant, arguments: counts)
func clampValues(count: Int) {
    var random = TestRandom(seed: UInt64(count))
    let limit: Float = 1.5
    var input = random.floats(count, -3, 3)
    let specials: [Float] = [.infinity, -.infinity, limit, -limit, 0, -0.0, .greatestFiniteMagnitude]
    for (index, special) in specials.enumerated() where index < count { input[(index * 5) % count] = special }
    let values = GuardedBuffer(input)
    let expected = input.map { Expected.exact(min(max($0, -limit), limit)) }
    Kernels.current.clamp(values.pointer, count: count, limit: limit)
    expectBuffer(values, expected, "values")
}

// MARK: - Sums

@Test(
    "accumulateColumnSums adds each column onto the existing sums, rows in order", .everyKernelVariant,
    arguments: [1, 3, 8, 17, 31, 32, 33, 100], [0, 1, 7, 40])
func accumulateColumnSums(columns: Int, rows: Int) {
    for rowStride in [columns, columns + 5] {
        var random = TestRandom(seed: UInt64(columns << 8 | rows))
        let matrix = GuardedBuffer(random.floats(rows * rowStride, -1, 1))
        let sums = GuardedBuffer(random.floats(columns, -4, 4))
        var expected: [Expected] = []
        for column in 0..<columns {
            // The documented order, in float: start from the sum, add rows 0, 1, ...
            var sum = sums[column], reference = Double(sums[column])
            for row in 0..<rows {
                sum += matrix[row * rowStride + column]
                reference += Double(matrix[row * rowStride + column])
            }
            #expect(isClose(sum, reference, relative: 1e-5, absolute: 1e-5))
            expected.append(.exact(sum))
        }
        let matrixBefore = untouched(matrix)
        Kernels.current.accumulateColumnSums(
            matrix.pointer, rows: rows, columns: columns, rowStride: rowStride, into: sums.pointer)
        expectBuffer(sums, expected, "sums (row stride \(rowStride))")
        expectBuffer(matrix, matrixBefore, "matrix")
    }
}

@Test(
    "sumOfSquares matches a double-precision sum, long arrays included", .everyKernelVariant,
    arguments: [0, 1, 7, 8, 9, 33, 1023, 1024, 1025, 4097, 1_000_003])
func sumOfSquares(count: Int) {
    var random = TestRandom(seed: UInt64(count))
    let values = GuardedBuffer(random.floats(count, -2, 2))
    let reference = values.values.reduce(0.0) { $0 + Double($1) * Double($1) }
    let result = Kernels.current.sumOfSquares(values.pointer, count: count)
    // Float partial sums over blocks of 128 values per lane: well inside 1e-5.
    #expect(abs(result - reference) <= 1e-5 * reference, "\(result) vs \(reference)")
    #expect(count > 0 || result == 0)
}

// MARK: - Gradient reduction

/// Runs `treeReduce` over `values` (one array per buffer) in the given pieces
/// of `0..<length`, returning buffer 0.
private func treeReduce(_ values: [[Float]], pieces: [Range<Int>]) -> GuardedBuffer {
    let buffers = values.map { GuardedBuffer($0) }
    let pointers = buffers.map(\.pointer)
    pointers.withUnsafeBufferPointer { pointers in
        for piece in pieces { Kernels.current.treeReduce(pointers.baseAddress!, count: pointers.count, range: piece) }
    }
    for buffer in buffers { #expect(buffer.guardsIntact) }
    return buffers[0]
}

@Test("treeReduce sums in its documented pairwise tree", .everyKernelVariant, arguments: [1, 2, 3, 4, 5, 8, 9, 16])
func treeReduceMatchesScalarTree(bufferCount: Int) {
    var random = TestRandom(seed: UInt64(bufferCount))
    let length = 203
    let values = (0..<bufferCount).map { _ in random.floats(length, -1, 1) }
    // The same tree in scalar float: level by level, 0+1, 2+3, ...; then 0+2, ...
    var tree = values
    var stride = 1
    while stride < bufferCount {
        for index in Swift.stride(from: 0, to: bufferCount - stride, by: 2 * stride) {
            for element in 0..<length { tree[index][element] += tree[index + stride][element] }
        }
        stride *= 2
    }
    let result = treeReduce(values, pieces: [0..<length])
    expectBuffer(result, tree[0].map(Expected.exact), "reduced")
    for element in 0..<length {
        let sum = values.reduce(0.0) { $0 + Double($1[element]) }
        #expect(isClose(result[element], sum, relative: 1e-5, absolute: 1e-6 * Double(bufferCount)))
    }
}

@Test("treeReduce gives identical bits however the range is split", .everyKernelVariant, arguments: [2, 3, 7, 12])
func treeReduceIsDeterministic(bufferCount: Int) {
    var random = TestRandom(seed: 0xACE + UInt64(bufferCount))
    let length = 1003
    // Values of mixed magnitude, so that a different order would round differently.
    let values = (0..<bufferCount).map { _ in
        random.floats(length, -1, 1).map { $0 * Float(pow(10, Double(random.integer(in: -3..<4)))) }
    }
    let whole = treeReduce(values, pieces: [0..<length]).values.map(\.bitPattern)
    let splits: [[Range<Int>]] = [
        [0..<512, 512..<length],  // two threads, vector-aligned
        [0..<256, 256..<512, 512..<768, 768..<length],  // four threads
        (0..<length / 64 + 1).map { 64 * $0..<min(64 * ($0 + 1), length) },  // many small pieces
        [0..<13, 13..<500, 500..<1001, 1001..<length]  // unaligned pieces
    ]
    for pieces in splits {
        let split = treeReduce(values, pieces: pieces).values.map(\.bitPattern)
        #expect(split == whole, "pieces \(pieces.prefix(4))")
    }
}

@Test("treeReduce touches only its range", .everyKernelVariant)
func treeReduceStaysInRange() {
    var random = TestRandom(seed: 77)
    let values = (0..<5).map { _ in random.floats(100, -1, 1) }
    let result = treeReduce(values, pieces: [19..<61])
    for element in 0..<100 where !(19..<61).contains(element) {
        #expect(result[element].bitPattern == values[0][element].bitPattern, "element \(element)")
    }
    for element in 19..<61 {
        #expect(isClose(result[element], values.reduce(0.0) { $0 + Double($1[element]) }))
    }
}

// MARK: - Optimisers

/// PyTorch's `torch.optim.SGD` step (no dampening, no Nesterov), in double precision.
private struct SGDReference {
    var parameters: [Double]
    var buffer: [Double]?

    mutating func step(gradients: [Float], learningRate: Double, momentum: Double, weightDecay: Double, first: Bool) {
        for index in parameters.indices {
            var g = Double(gradients[index]) + weightDecay * parameters[index]
            if buffer != nil {
                // torch: buf = g on the first step, then buf = momentum * buf + g.
                g = first ? g : momentum * buffer![index] + g
                buffer![index] = g
            }
            parameters[index] -= learningRate * g
        }
    }
}

@Test("sgdUpdate follows PyTorch's SGD", .everyKernelVariant, arguments: [false, true], [0, 0.01])
func sgdUpdate(momentum usesMomentum: Bool, weightDecay: Float) {
    for count in [1, 8, 37] {
        var random = TestRandom(seed: UInt64(count) << 1 | (usesMomentum ? 1 : 0))
        let initial = random.floats(count, -1, 1)
        let parameters = GuardedBuffer(initial)
        // Before the first step the buffer holds garbage that must be ignored.
        let buffer = usesMomentum ? GuardedBuffer(count: count, fill: .nan) : nil
        var reference = SGDReference(
            parameters: initial.map(Double.init),
            buffer: usesMomentum ? Array(repeating: 0, count: count) : nil)
        let learningRate: Float = 0.1, momentum: Float = 0.9
        for step in 0..<4 {
            let gradients = GuardedBuffer(random.floats(count, -1, 1))
            Kernels.current.sgdUpdate(
                parameters: parameters.pointer, gradients: gradients.pointer, momentum: buffer?.pointer,
                count: count, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
                firstStep: step == 0)
            reference.step(
                gradients: gradients.values, learningRate: Double(learningRate),
                momentum: Double(momentum), weightDecay: Double(weightDecay), first: step == 0)
            expectBuffer(parameters, reference.parameters.map(Expected.close), "parameters after step \(step + 1)")
            if let buffer, let expected = reference.buffer {
                expectBuffer(buffer, expected.map(Expected.close), "momentum buffer after step \(step + 1)")
            }
            #expect(gradients.guardsIntact)
        }
    }
}

/// PyTorch's `torch.optim.Adam` step (L2 weight decay, bias correction), in double precision.
private struct AdamReference {
    var parameters: [Double]
    var first: [Double]
    var second: [Double]

    mutating func step(
        _ t: Int, gradients: [Float], learningRate: Double, beta1: Double, beta2: Double,
        epsilon: Double, weightDecay: Double
    ) {
        let correction1 = 1 - pow(beta1, Double(t)), correction2 = 1 - pow(beta2, Double(t))
        for index in parameters.indices {
            let g = Double(gradients[index]) + weightDecay * parameters[index]
            first[index] = beta1 * first[index] + (1 - beta1) * g
            second[index] = beta2 * second[index] + (1 - beta2) * g * g
            let denominator = second[index].squareRoot() / correction2.squareRoot() + epsilon
            parameters[index] -= learningRate / correction1 * first[index] / denominator
        }
    }
}

@Test("adamUpdate follows PyTorch's Adam with bias correction", .everyKernelVariant, arguments: [0, 0.01])
func adamUpdate(weightDecay: Float) {
    for count in [1, 8, 37] {
        var random = TestRandom(seed: UInt64(count) << 1 | (weightDecay > 0 ? 1 : 0))
        let initial = random.floats(count, -1, 1)
        let parameters = GuardedBuffer(initial)
        let first = GuardedBuffer(count: count, fill: 0), second = GuardedBuffer(count: count, fill: 0)
        var reference = AdamReference(
            parameters: initial.map(Double.init), first: Array(repeating: 0, count: count),
            second: Array(repeating: 0, count: count))
        let learningRate: Float = 0.01, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
        for step in 1...5 {
            // Gradients over several magnitudes, so that eps and the moments all matter.
            let gradients = GuardedBuffer(random.floats(count, -1, 1).map { $0 * Float(pow(10, Double(-step))) })
            Kernels.current.adamUpdate(
                parameters: parameters.pointer, gradients: gradients.pointer, firstMoment: first.pointer,
                secondMoment: second.pointer, count: count, learningRate: learningRate, beta1: beta1,
                beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, step: step)
            reference.step(
                step, gradients: gradients.values, learningRate: Double(learningRate), beta1: Double(beta1),
                beta2: Double(beta2), epsilon: Double(epsilon), weightDecay: Double(weightDecay))
            expectBuffer(parameters, reference.parameters.map(Expected.close), "parameters after step \(step)")
            expectBuffer(first, reference.first.map(Expected.close), "first moment after step \(step)")
            expectBuffer(second, reference.second.map(Expected.close), "second moment after step \(step)")
        }
    }
}

@Test("adamUpdate with a zero gradient and zero moments leaves the parameters alone", .everyKernelVariant)
func adamZeroGradient() {
    for step in [1, 2, 1000] {
        var random = TestRandom(seed: UInt64(step))
        let initial = random.floats(19, -1, 1)
        let parameters = GuardedBuffer(initial)
        let gradients = GuardedBuffer(count: 19, fill: 0)
        let first = GuardedBuffer(count: 19, fill: 0), second = GuardedBuffer(count: 19, fill: 0)
        Kernels.current.adamUpdate(
            parameters: parameters.pointer, gradients: gradients.pointer, firstMoment: first.pointer,
            secondMoment: second.pointer, count: 19, learningRate: 0.001, beta1: 0.9, beta2: 0.999,
            epsilon: 1e-8, weightDecay: 0, step: step)
        expectBuffer(parameters, initial.map(Expected.exact), "parameters at step \(step)")
        expectBuffer(first, Array(repeating: .exact(0), count: 19), "first moment")
        expectBuffer(second, Array(repeating: .exact(0), count: 19), "second moment")
    }
}

// MARK: - Dropout

/// Wellons' lowbias32, the dropout kernel's hash, one word at a time.
private func lowbias32(_ word: UInt32) -> UInt32 {
    var x = word
    x ^= x >> 16
    x &*= 0x7FEB_352D
    x ^= x >> 15
    x &*= 0x846C_A68B
    return x ^ x >> 16
}

@Test(
    "dropout keeps and scales exactly the elements whose draw is below the threshold", .everyKernelVariant,
    arguments: counts)
func dropoutMask(count: Int) {
    var random = TestRandom(seed: UInt64(count))
    var input = random.floats(count, -3, 3)
    for (index, special) in [Float.infinity, .nan, -0.0].enumerated() where index < count {
        input[(index * 7) % count] = special
    }
    let key: UInt64 = 0x0123_4567_89AB_CDEF &* UInt64(count)
    for keepBelow: UInt32 in [0, 1 << 31, 3_000_000_000, .max] {
        let values = GuardedBuffer(input)
        let scale: Float = 1 / 0.7
        let expected = input.indices.map { index in
            let draw = lowbias32(
                lowbias32(UInt32(truncatingIfNeeded: key) ^ UInt32(index)) &+ UInt32(truncatingIfNeeded: key >> 32))
            return Expected.exact(input[index] * (draw < keepBelow ? scale : 0))
        }
        Kernels.current.dropout(values.pointer, count: count, key: key, keepBelow: keepBelow, scale: scale)
        expectBuffer(values, expected, "keep below \(keepBelow)")
    }
}
