// Vectorized exp and sigmoid after Cephes' single-precision routines (a
// range reduction plus a short polynomial) and tanh as one rational
// function, all accurate to a few ulp, with no branches so that every lane
// of a vector takes the same path.

/// A vector's worth of lanes loaded from `count` (< `Vector.scalarCount`)
/// floats, the rest zero: lets kernels treat the tail of a row like any chunk.
@inline(__always)
func loadPartialVector(_ pointer: UnsafePointer<Float>, count: Int) -> Vector {
    var value = Vector()
    for lane in 0..<count { value[lane] = pointer[lane] }
    return value
}

@inline(__always)
func storePartialVector(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
    for lane in 0..<count { pointer[lane] = value[lane] }
}

// The activations are transparent, not only always-inline: the generated
// cell kernels grow past the SIL inliner's caller limit, which then leaves
// them as calls in the hottest loop; mandatory inlining has no such limit.
@_transparent
func vectorExp(_ x: Vector) -> Vector {
    // Stay inside the normal range: the result of 2^n below is built from bits.
    var clamped = x.replacing(with: -87.3, where: x .< -87.3)
    clamped.replace(with: 88.3, where: clamped .> 88.3)
    let n = multiplyAdd(clamped, Vector(repeating: 1.44269504088896341), Vector(repeating: 0.5)).rounded(.down)
    // r = x - n ln 2, with ln 2 split in two so that r keeps its low bits.
    var r = multiplyAdd(n, Vector(repeating: -0.693359375), clamped)
    r = multiplyAdd(n, Vector(repeating: 2.12194440e-4), r)
    var p = Vector(repeating: 1.9875691500e-4)
    p = multiplyAdd(p, r, Vector(repeating: 1.3981999507e-3))
    p = multiplyAdd(p, r, Vector(repeating: 8.3334519073e-3))
    p = multiplyAdd(p, r, Vector(repeating: 4.1665795894e-2))
    p = multiplyAdd(p, r, Vector(repeating: 1.6666665459e-1))
    p = multiplyAdd(p, r, Vector(repeating: 5.0000001201e-1))
    p = multiplyAdd(p, r * r, r + 1)
    // 2^n from bits: adding 1.5 * 2^23 leaves the integer n in the low mantissa bits.
    let shifter = Vector(repeating: 12_582_912)
    let integer =
        unsafeBitCast(n + shifter, to: Vector.MaskStorage.self) &- unsafeBitCast(shifter, to: Vector.MaskStorage.self)
    return p * unsafeBitCast((integer &+ 127) &<< 23, to: Vector.self)
}

@_transparent
func vectorSigmoid(_ x: Vector) -> Vector {
    1 / (1 + vectorExp(-x))
}

/// tanh as one rational function of x, odd polynomials of degree 13 over 6
/// (the coefficients Eigen and TensorFlow use), on x clamped to ±7.9053,
/// where it reaches ±1 in float: 3.9e-7 relative error at most, and a
/// third of the vector operations of an exp-based form with a polynomial
/// for small |x|, which matters in the LSTM's and the RNN's cell kernels.
/// The clamp compares, so that a NaN stays NaN.
@_transparent
func vectorTanh(_ x: Vector) -> Vector {
    let bound: Float = 7.90531110763549805
    var clamped = x.replacing(with: -bound, where: x .< -bound)
    clamped.replace(with: bound, where: clamped .> bound)
    let z = clamped * clamped
    var p = Vector(repeating: -2.76076847742355e-16)
    p = multiplyAdd(p, z, Vector(repeating: 2.00018790482477e-13))
    p = multiplyAdd(p, z, Vector(repeating: -8.60467152213735e-11))
    p = multiplyAdd(p, z, Vector(repeating: 5.12229709037114e-08))
    p = multiplyAdd(p, z, Vector(repeating: 1.48572235717979e-05))
    p = multiplyAdd(p, z, Vector(repeating: 6.37261928875436e-04))
    p = multiplyAdd(p, z, Vector(repeating: 4.89352455891786e-03))
    var q = Vector(repeating: 1.19825839466702e-06)
    q = multiplyAdd(q, z, Vector(repeating: 1.18534705686654e-04))
    q = multiplyAdd(q, z, Vector(repeating: 2.26843463243900e-03))
    q = multiplyAdd(q, z, Vector(repeating: 4.89352518554385e-03))
    return clamped * p / q
}

/// Element-wise activations over contiguous arrays (used by tests and by
/// code outside the fused cell kernels).
enum Activation {
    static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        map(input, output, count: count, vectorExp)
    }

    static func sigmoid(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        map(input, output, count: count, vectorSigmoid)
    }

    static func tanh(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        map(input, output, count: count, vectorTanh)
    }

    @inline(__always)
    static func map(
        _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int,
        _ function: (Vector) -> Vector
    ) {
        let width = Vector.scalarCount
        var index = 0
        while index + width <= count {
            storeVector(function(loadVector(input + index)), output + index)
            index += width
        }
        if index < count {
            storePartialVector(
                function(loadPartialVector(input + index, count: count - index)),
                output + index, count: count - index)
        }
    }
}
