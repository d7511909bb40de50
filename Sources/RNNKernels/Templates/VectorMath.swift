// Vectorized exp, sigmoid and tanh after Cephes' single-precision routines:
// a range reduction plus a short polynomial, accurate to a few ulp, with no
// branches so that every lane of a vector takes the same path.

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

@_transparent
func vectorTanh(_ x: Vector) -> Vector {
    let magnitude = unsafeBitCast(unsafeBitCast(x, to: Vector.MaskStorage.self) & 0x7fff_ffff, to: Vector.self)
    // Large |x|: 1 - 2 / (e^{2|x|} + 1), which saturates cleanly to 1.
    let large = 1 - 2 / (vectorExp(2 * magnitude) + 1)
    // Small |x|: an odd polynomial, free of the cancellation in 1 - 2/(...).
    let z = x * x
    var p = Vector(repeating: -5.70498872745e-3)
    p = multiplyAdd(p, z, Vector(repeating: 2.06390887954e-2))
    p = multiplyAdd(p, z, Vector(repeating: -5.37397155531e-2))
    p = multiplyAdd(p, z, Vector(repeating: 1.33314422036e-1))
    p = multiplyAdd(p, z, Vector(repeating: -3.33332819422e-1))
    let small = multiplyAdd(p * z, x, x)
    let signedLarge = large.replacing(with: -large, where: x .< 0)
    return signedLarge.replacing(with: small, where: magnitude .< 0.625)
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
