import CRNNSupport

// Every variant module declares `Vector`, the SIMD vector that fills one of
// its registers; the kernels are written against that name only. Nothing
// here is public or `@inlinable`: the bodies must be compiled in the variant's
// module, with its target flags, and never inlined into a client compiled
// without them.

/// Whether this module was compiled for a target with fused multiply-add.
@inline(__always)
var compiledWithFMA: Bool { rnn_target_has_fma != 0 }

/// `a * b + c`, one rounding where the target has FMA; a separate multiply and
/// add otherwise, never the per-lane libm `fmaf` calls `addingProduct` becomes
/// on a target without FMA.
@inline(__always)
func multiplyAdd(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector {
    if compiledWithFMA {
        return c.addingProduct(a, b)
    } else {
        return c + a * b
    }
}

/// Scalar `a * b + c` with the same rounding rule as the vector form.
@inline(__always)
func multiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float {
    if compiledWithFMA {
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

/// Walks the floats at `offsets` in whole vectors and one partial tail, so a
/// kernel writes one body for every chunk of a row (or of a row's units).
///
/// The body is inlined twice: in the loop over whole vectors `lanes` is a
/// constant, so the partial loads and stores fold away there, and only the
/// tail pays for them.
@inline(__always)
func forEachChunk(of offsets: Range<Int>, _ body: (_ offset: Int, _ lanes: Int) -> Void) {
    var offset = offsets.lowerBound
    while offset + Vector.scalarCount <= offsets.upperBound {
        body(offset, Vector.scalarCount)
        offset += Vector.scalarCount
    }
    if offset < offsets.upperBound { body(offset, offsets.upperBound - offset) }
}

@inline(__always)
func forEachChunk(_ count: Int, _ body: (_ offset: Int, _ lanes: Int) -> Void) {
    forEachChunk(of: 0..<count, body)
}

@inline(__always)
func load(_ pointer: UnsafePointer<Float>, lanes: Int) -> Vector {
    lanes == Vector.scalarCount ? loadVector(pointer) : loadPartialVector(pointer, count: lanes)
}

@inline(__always)
func load(_ pointer: UnsafeMutablePointer<Float>, lanes: Int) -> Vector {
    load(UnsafePointer(pointer), lanes: lanes)
}

@inline(__always)
func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == Vector.scalarCount {
        storeVector(value, pointer)
    } else {
        storePartialVector(value, pointer, count: lanes)
    }
}
