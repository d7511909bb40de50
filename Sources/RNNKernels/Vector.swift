import CRNNSupport

/// The SIMD vector the kernels are written in: 8 floats fill one AVX2 register.
///
/// Kernel entry points are public, non-generic and never `@inlinable`: their
/// bodies must be compiled here, with this module's FMA target flags, and not
/// inlined into a client compiled without them.
public typealias Vector = SIMD8<Float>

/// Whether this module was compiled for a target with fused multiply-add.
public let targetHasFMA = rnn_target_has_fma != 0

/// `a * b + c`, one rounding where the target has FMA; a separate multiply and
/// add otherwise, never the per-lane libm `fmaf` calls `addingProduct` becomes
/// on a target without FMA.
@inline(__always)
func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector {
    if rnn_target_has_fma != 0 {
        return c.addingProduct(a, b)
    } else {
        return c + a * b
    }
}

/// Scalar `a * b + c` with the same rounding rule as the vector form.
@inline(__always)
func multiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float {
    if rnn_target_has_fma != 0 {
        return c.addingProduct(a, b)
    } else {
        return c + a * b
    }
}

@inline(__always)
func loadVector(_ pointer: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
}

@inline(__always)
func storeVector(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
}
